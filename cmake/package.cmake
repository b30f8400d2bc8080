# package.cmake - what `cmake --install` and the Debian package carry
# beyond the binary and cutover(1), and the CPack DEB settings behind
# `cmake --build build --target package` (cutover_<version>_<arch>.deb).
# Included from CMakeLists.txt after the cutover target.

# Shell completions, generated from the command, option and check tables
# like the man page (`cutover list --completion bash|zsh`).
set(CUTOVER_COMPLETION_DIR ${CMAKE_BINARY_DIR}/completions)
add_custom_command(
  OUTPUT ${CUTOVER_COMPLETION_DIR}/cutover ${CUTOVER_COMPLETION_DIR}/_cutover
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CUTOVER_COMPLETION_DIR}
  COMMAND ${CMAKE_COMMAND} -DCUTOVER=$<TARGET_FILE:cutover>
          -DOUTDIR=${CUTOVER_COMPLETION_DIR}
          -P ${PROJECT_SOURCE_DIR}/cmake/completion.cmake
  DEPENDS cutover ${PROJECT_SOURCE_DIR}/cmake/completion.cmake
  COMMENT "Generating bash and zsh completions from the CLI and check tables")
add_custom_target(completions ALL
  DEPENDS ${CUTOVER_COMPLETION_DIR}/cutover ${CUTOVER_COMPLETION_DIR}/_cutover)

# bash-completion loads completions/<command> on demand. zsh's fpath holds
# vendor-completions under /usr (Debian) but site-functions under
# /usr/local, so the directory is chosen when installing: the package's
# staging prefix ends in /usr too.
install(FILES ${CUTOVER_COMPLETION_DIR}/cutover
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions)
install(CODE "
  if(CMAKE_INSTALL_PREFIX MATCHES \"/usr/?$\")
    set(zshdir vendor-completions)
  else()
    set(zshdir site-functions)
  endif()
  file(INSTALL ${CUTOVER_COMPLETION_DIR}/_cutover
       DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATAROOTDIR}/zsh/\${zshdir}\")
")

# README, licence (as Debian's copyright file) and the example configs.
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME copyright)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The Debian package. Depends comes from the shared libraries the binary
# links (dpkg-shlibdeps, package dpkg-dev), so it names this system's
# sonames: a package built on Debian 12 installs on Debian 12.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cutover)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "the cutover authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "checks a Heroku to Aptible migration and reports for CI gates")
set(CPACK_PACKAGE_DESCRIPTION
    "cutover checks both sides of a Heroku -> Aptible migration (PostgreSQL,
Redis, DNS, TLS, HTTP endpoints, outbound reachability, config vars),
read-only, and writes JUnit XML, JSON, Markdown and text reports that a CI
pipeline gates on: before the cutover, after it, and nightly for drift.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "cutover maintainers <maintainers@users.noreply.r-seed-c8ef1fb2.example>")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# TLS verification against public CAs needs the system store.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
include(CPack)
