/*
 * table_int.h — shared inside src/table/ only.
 *
 * Deletion vectors (Delta PROTOCOL.md, "Deletion Vectors"): a descriptor in
 * an add action names a RoaringBitmap of deleted row indexes of one data
 * file, stored inline (storageType "i", Z85 text), in a file beside the table
 * ("u": optional directory prefix + Z85-encoded UUID, file
 * <prefix>/deletion_vector_<uuid>.bin) or at an absolute path ("p"). A DV
 * file is: version byte 1, then at `offset`: big-endian u32 size, the bitmap
 * (magic 1681511377 LE, then a 64-bit RoaringTreemap: u64 LE bucket count,
 * per bucket u32 LE high bits + a 32-bit roaring bitmap in the portable
 * format), then a CRC-32.
 */
#ifndef SM_TABLE_INT_H
#define SM_TABLE_INT_H

#include <jansson.h>

#include "table.h"
#include "util/util.h"

/* Decode the deletion vector described by dv_json (the add action's
 * deletionVector object as JSON text) of a table at root: *out gets the
 * sorted deleted row indexes (malloc'd), *n their count. */
int tbl_dv_read(const char *root, const char *dv_json, uint64_t **out, size_t *n,
                struct sm_err *err) SM_MUST_USE;

/* Percent-decode a path from an add/remove action (Delta paths are URIs).
 * Caller frees. */
char *tbl_uri_decode(const char *s);

/* Z85-decode len chars (a multiple of 5) into len/5*4 bytes. */
int tbl_z85_decode(const char *s, size_t len, unsigned char *out);

/* Fill f from an add action's value (path decoded, stats and numRecords,
 * partition values and deletion vector as JSON text). */
void tbl_file_from_add(json_t *add, struct tbl_file *f);
/* Free what f owns (not f itself). */
void tbl_file_release(struct tbl_file *f);

/* The column named name of s, or NULL; whether it is a partition column. */
const struct tbl_column *tbl_find_column(const struct tbl_snapshot *s, const char *name);
bool tbl_is_partition_col(const struct tbl_snapshot *s, const char *name);

/* Call fn for each action (one JSON object per line) of the commit file at
 * path; stops at the first non-zero return. Invalid JSON is SM_EPARSE with
 * path:line. */
typedef int (*tbl_action_fn)(json_t *action, const char *path, size_t line, void *ctx,
                             struct sm_err *err);
int tbl_log_read_actions(const char *path, tbl_action_fn fn, void *ctx,
                         struct sm_err *err) SM_MUST_USE;

#endif
