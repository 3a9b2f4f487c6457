/* Umbrella header: everything a module author needs. */
#ifndef RMAIL_H
#define RMAIL_H

#include <rmail/version.h>
#include <rmail/err.h>
#include <rmail/module.h>
#include <rmail/store.h>
#include <rmail/filter.h>
#include <rmail/mime.h>
#include <rmail/core.h>

#endif
