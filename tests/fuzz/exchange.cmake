# mod_exchange's pure parsers: the HTTP request parser (head and body),
# JSON request bodies with the address/flag validators, and the
# autodiscover EMailAddress scanner.
rmail_fuzz(exchange_http
  SOURCES tests/fuzz/fuzz_exchange_http.c modules/exchange/http_parser.c
  INCLUDES modules/exchange)
rmail_fuzz(exchange_json
  SOURCES tests/fuzz/fuzz_exchange_json.c modules/exchange/ex_json.c
  INCLUDES modules/exchange LIBRARIES PkgConfig::JANSSON)
rmail_fuzz(exchange_autodiscover
  SOURCES tests/fuzz/fuzz_exchange_autodiscover.c
          modules/exchange/autodiscover_scan.c
  INCLUDES modules/exchange LIBRARIES PkgConfig::JANSSON)
rmail_fuzz(exchange_disposition
  SOURCES tests/fuzz/fuzz_exchange_disposition.c
          modules/exchange/disposition.c
  INCLUDES modules/exchange LIBRARIES PkgConfig::JANSSON)
rmail_fuzz(exchange_search
  SOURCES tests/fuzz/fuzz_exchange_search.c modules/exchange/search_args.c
  INCLUDES modules/exchange)
