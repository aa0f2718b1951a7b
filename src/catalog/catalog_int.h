/*
 * catalog_int.h — shared inside src/catalog/ only.
 */
#ifndef SM_CATALOG_INT_H
#define SM_CATALOG_INT_H

#include "catalog.h"

/* "zone.name" in lowercase (DuckDB's names are case-insensitive): the key
 * of a table in the skip set below. Caller frees. */
char *cat_key(const char *zone, const char *name);

/* cat_attach_all(), leaving out the tables whose cat_key() is in skip (a
 * set: only the keys matter; NULL = none). */
int cat_attach_all_except(struct eng_db *db, const char *lake, const char *state_path,
                          const struct sm_map *skip, struct sm_err *err) SM_MUST_USE;

/* The zone.name pairs written in sql, as cat_preopen() guesses them: two
 * names joined by a dot, outside strings, comments and longer dotted
 * names; bare names as written, "quoted" ones unquoted. Each pair once, at
 * most max: *out holds zone, name, zone, name, ... (caller frees each and
 * *out). Returns the number of pairs. */
size_t cat_guess_names(const char *sql, size_t max, char ***out);

#endif
