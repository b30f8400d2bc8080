cmake_minimum_required(VERSION 3.18)
# Writes the bash and zsh completion scripts with
# `cutover list --completion SHELL`: they are generated from the command,
# option and check tables, so they cannot drift from the code.
foreach(shell bash zsh)
  if(shell STREQUAL "bash")
    set(out ${OUTDIR}/cutover)
  else()
    set(out ${OUTDIR}/_cutover)
  endif()
  execute_process(COMMAND ${CUTOVER} list --completion ${shell}
                  OUTPUT_FILE ${out}.tmp RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cutover list --completion ${shell} failed")
  endif()
  file(RENAME ${out}.tmp ${out})
endforeach()
