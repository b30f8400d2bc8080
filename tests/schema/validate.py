#!/usr/bin/env python3
"""Validates YAML files against cutover's JSON Schema (test_config_schema).

usage: validate.py SCHEMA FILE...

Prints one line per file: "ok FILE", or "error FILE PATH: MESSAGE" for
every distinct place the schema rejects it, where PATH is spelled the
way `cutover config` names a key (dotted keys, [i] for list items; an
unknown or missing key is named itself, as the loader does). Exit 0
when every file is valid, 1 otherwise, 2 on a usage or schema problem.

Debian's python3-jsonschema (draft 2020-12) and python3-yaml only.
"""
import json
import sys

import jsonschema
import yaml


def dotted(parts):
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        else:
            out += ("." if out else "") + str(p)
    return out


def places(err):
    """The key paths an error names, as `cutover config` would."""
    if err.context:
        # anyOf/oneOf: the branch that got deepest says where it broke
        # (a list's bad item rather than the list).
        deepest = max(err.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(err.absolute_path):
            return places(deepest)
    path = list(err.absolute_path)
    inst = err.instance
    if "propertyNames" in err.schema_path:
        return [dotted(path + [inst])]
    if err.validator == "additionalProperties" and isinstance(inst, dict):
        known = set(err.schema.get("properties", {}))
        return [dotted(path + [k]) for k in inst if k not in known]
    if err.validator == "required" and isinstance(inst, dict):
        return [dotted(path + [k]) for k in err.validator_value
                if k not in inst]
    return [dotted(path)]


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for name in argv[2:]:
        with open(name, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        found = {}
        for err in validator.iter_errors(doc):
            for p in places(err):
                found.setdefault(p, err.message)
        if not found:
            print("ok %s" % name)
            continue
        bad = 1
        for p in sorted(found):
            print("error %s %s: %s" % (name, p, found[p][:200]))
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
