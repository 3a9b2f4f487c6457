# rmail import passwd / aliases: passwd-file and shadow lines, Postfix
# virtual(5) tables, and the stored hash schemes the store verifies.
rmail_fuzz(pwfile
  SOURCES tests/fuzz/fuzz_pwfile.c cli/migrate/pwfile.c
  INCLUDES cli)
rmail_fuzz(vtable
  SOURCES tests/fuzz/fuzz_vtable.c cli/migrate/vtable.c
  INCLUDES cli)
rmail_fuzz(pwscheme
  SOURCES tests/fuzz/fuzz_pwscheme.c modules/shardstore/pwscheme.c
  INCLUDES modules/shardstore
  LIBRARIES PkgConfig::LIBCRYPT PkgConfig::LIBARGON2 OpenSSL::Crypto)
