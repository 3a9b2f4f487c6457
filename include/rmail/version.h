/*
 * rmail module ABI version.
 *
 * The ABI version is independent of the release number.  A module built
 * for ABI M.m loads into a core providing M.n when n >= m.
 *
 * Policy:
 *  - append a field at the end of a struct or a services table, add a new
 *    enum value or a new flag                    -> RMAIL_ABI_MINOR++
 *  - remove, reorder or retype anything, change the meaning of a field or
 *    the frozen descriptor header               -> RMAIL_ABI_MAJOR++,
 *                                                  RMAIL_ABI_MINOR = 0
 * Newer entry points are guarded with RMAIL_CORE_HAS() by modules that
 * want to run on older cores.
 *
 * Changelog:
 *  1.0  first public ABI.
 */
#ifndef RMAIL_VERSION_H
#define RMAIL_VERSION_H

#define RMAIL_VERSION "0.1.0"

#define RMAIL_ABI_MAJOR 1
#define RMAIL_ABI_MINOR 0

#endif
