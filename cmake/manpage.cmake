cmake_minimum_required(VERSION 3.18)
# Fills doc/cutover.1.in: the CHECKS section comes from the descriptors
# (`cutover list --man`), so the man page cannot drift from the code.
execute_process(COMMAND ${CUTOVER} list --man OUTPUT_VARIABLE CHECKS
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cutover list --man failed")
endif()
string(TIMESTAMP DATE "%Y-%m-%d" UTC)
file(READ ${IN} text)
string(REPLACE "@CHECKS@" "${CHECKS}" text "${text}")
string(REPLACE "@VERSION@" "${VERSION}" text "${text}")
string(REPLACE "@DATE@" "${DATE}" text "${text}")
file(WRITE ${OUT} "${text}")
