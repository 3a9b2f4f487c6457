# imap_bench: included from bench/CMakeLists.txt (one line there).
find_package(OpenSSL REQUIRED)
add_executable(imap_bench ${CMAKE_CURRENT_LIST_DIR}/imap_bench.c)
target_link_libraries(imap_bench PRIVATE OpenSSL::SSL OpenSSL::Crypto PkgConfig::ZLIB
                      rmail_bench_corpus rmail_bench_daemon)
