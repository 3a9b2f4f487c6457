# mod_shardstore: the user.json parser (admins hand-edit the file).
rmail_fuzz(user_json
  SOURCES tests/fuzz/fuzz_user_json.c modules/shardstore/users_json.c
  INCLUDES modules/shardstore
  LIBRARIES PkgConfig::JANSSON)
