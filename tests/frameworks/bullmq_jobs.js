// bullmq_jobs.js - fills a Redis db the way BullMQ does, with BullMQ's own
// Queue, FlowProducer and Worker, and prints Queue#getJobCounts().
//
//   node bullmq_jobs.js PORT DB ACTION [PREFIX]
//   ACTION: fill    queue "emails": 3 waiting, 1 prioritized, 2 delayed,
//                   a flow parent waiting for 2 children (children
//                   waiting), 1 active (taken by a worker, not finished),
//                   1 failed, 1 completed; queue "reports": 2 jobs, then
//                   Queue#pause() (this BullMQ keeps them in wait, with
//                   the paused flag in meta)
//           drain   Queue#resume(), Queue#drain(true), the active job
//                   completed by the worker holding it, the flow parent
//                   removed: what is left is failed and completed
//           counts  prints {"<case name>": N, ...}: getJobCounts() of
//                   every state, for each queue
//   PREFIX: BullMQ's `prefix` option (default "bull"), e.g. "{myapp}".
// The password comes from CUTOVER_TB_REDIS_PASSWORD, never argv.
"use strict";
const { Queue, Worker, FlowProducer } = require("bullmq");

const STATES = ["wait", "paused", "prioritized", "waiting-children",
  "active", "delayed", "failed", "completed"];
const QUEUES = ["emails", "reports"];
const TOKEN = "cutover-test"; // the fill's worker lock token

async function fill(connection, prefix) {
  const emails = new Queue("emails", { connection, prefix });
  const reports = new Queue("reports", { connection, prefix });
  const flows = new FlowProducer({ connection, prefix });
  // the first two jobs are taken by a worker: one fails, one completes
  await emails.add("welcome", { n: 0 });
  await emails.add("welcome", { n: 1 });
  await emails.add("welcome", { n: 2 });
  const worker = new Worker("emails", null, { connection, prefix,
    autorun: false });
  const token = TOKEN;
  const done = await worker.getNextJob(token);
  await done.moveToCompleted("ok", token, false);
  const bad = await worker.getNextJob(token);
  await bad.moveToFailed(new Error("boom"), token, false);
  // waiting now: 1; then 2 more, and one taken and left active
  await emails.add("welcome", { n: 3 });
  await emails.add("welcome", { n: 4 });
  await worker.getNextJob(token); // n: 2, stays active
  await emails.add("welcome", { n: 5 });
  await emails.add("vip", { n: 6 }, { priority: 5 });
  await emails.add("later", { n: 7 }, { delay: 3600000 });
  await emails.add("later", { n: 8 }, { delay: 7200000 });
  await flows.add({ name: "digest", queueName: "emails", data: {},
    children: [{ name: "part", queueName: "emails", data: { p: 1 } },
      { name: "part", queueName: "emails", data: { p: 2 } }] });
  await reports.add("monthly", { m: 1 });
  await reports.add("monthly", { m: 2 });
  await reports.pause();
  await worker.close();
  await Promise.all([emails.close(), reports.close(), flows.close()]);
}

async function drain(connection, prefix) {
  for (const name of QUEUES) {
    const q = new Queue(name, { connection, prefix });
    await q.resume();
    await q.drain(true);
    // the active job, finished by the worker that holds it
    for (const job of await q.getJobs(["active"]))
      await job.moveToCompleted("drained", TOKEN, false);
    for (const job of await q.getJobs(["waiting-children"]))
      await job.remove({ removeChildren: true });
    await q.close();
  }
}

async function counts(connection, prefix) {
  const out = {};
  for (const name of QUEUES) {
    const q = new Queue(name, { connection, prefix });
    const c = await q.getJobCounts(...STATES);
    for (const s of STATES)
      out[`${prefix}:${name}:${s}`] = c[s];
    await q.close();
  }
  return out;
}

async function main() {
  const [port, db, action, pfx] = process.argv.slice(2);
  if (!action) throw new Error("usage: bullmq_jobs.js PORT DB ACTION [PREFIX]");
  const prefix = pfx || "bull";
  const connection = { host: "127.0.0.1", port: Number(port), db: Number(db),
    password: process.env.CUTOVER_TB_REDIS_PASSWORD || undefined,
    maxRetriesPerRequest: null };
  if (action === "fill") await fill(connection, prefix);
  else if (action === "drain") await drain(connection, prefix);
  else if (action === "counts")
    console.log(JSON.stringify(await counts(connection, prefix)));
  else throw new Error(`unknown action ${action}`);
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
