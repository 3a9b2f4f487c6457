# mime_bench: the core MIME parser on hostile and ordinary messages.
add_executable(mime_bench mime_bench.c)
target_link_libraries(mime_bench PRIVATE rmcore m)
