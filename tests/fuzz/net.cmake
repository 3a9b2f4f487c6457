# The core's network-facing parsers: the PROXY protocol header a load
# balancer sends before the client's first byte.
rmail_fuzz(proxy_header
  SOURCES tests/fuzz/fuzz_proxy_header.c core/net/proxy_proto.c
  INCLUDES core)
