# System libraries.  libev ships no .pc file on Debian 12.
find_package(PkgConfig REQUIRED)
find_package(OpenSSL 3.0 REQUIRED)
find_package(Threads REQUIRED)

find_path(LIBEV_INCLUDE_DIR ev.h REQUIRED)
# Static: libev.so also exports libevent's API (event_add...), and the
# dynamic linker would hand those to libunbound, which wants libevent's
# own.  Linked in statically, libev's compat layer stays unexported.
find_library(LIBEV_STATIC_LIBRARY NAMES libev.a ev REQUIRED)
add_library(rm_libev INTERFACE)
target_include_directories(rm_libev SYSTEM INTERFACE ${LIBEV_INCLUDE_DIR})
target_link_libraries(rm_libev INTERFACE ${LIBEV_STATIC_LIBRARY})

pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson>=2.13)
pkg_check_modules(LIBJWT REQUIRED IMPORTED_TARGET libjwt>=1.10)
pkg_check_modules(LIBCRYPT REQUIRED IMPORTED_TARGET libxcrypt)
# Dovecot's {ARGON2I}/{ARGON2ID} hashes, verified by the store
pkg_check_modules(LIBARGON2 REQUIRED IMPORTED_TARGET libargon2)
# DMARC's organizational domain (the Public Suffix List) and its
# gzip'd aggregate reports
pkg_check_modules(LIBPSL REQUIRED IMPORTED_TARGET libpsl)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
# an internationalised From: domain to its A-labels (DMARC)
pkg_check_modules(LIBIDN2 REQUIRED IMPORTED_TARGET libidn2)
# libcurl (OpenSSL flavour): MTA-STS policy fetches, TLS-RPT uploads
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl>=7.85)
# the header cache and full-text index (core/index): FTS5 with the
# trigram tokenizer needs 3.34
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3>=3.34)
# libunbound: found directly, since Debian's libunbound.pc names
# libevent in Requires.private and pkg-config then wants libevent-dev.
find_library(LIBUNBOUND_LIBRARY unbound REQUIRED)
find_path(LIBUNBOUND_INCLUDE_DIR unbound.h REQUIRED)
add_library(rm_libunbound INTERFACE)
target_link_libraries(rm_libunbound INTERFACE ${LIBUNBOUND_LIBRARY})
target_include_directories(rm_libunbound INTERFACE ${LIBUNBOUND_INCLUDE_DIR})
find_library(LIBRESOLV_LIBRARY resolv REQUIRED)
if(BUILD_TESTING)
  pkg_check_modules(GLIB REQUIRED IMPORTED_TARGET glib-2.0>=2.70)
endif()
