/*
 * ingest_int.h — what ingest.c and unpack.c share; not for other modules.
 *
 * unpack.c reads what DuckDB cannot: it checks that compressed files are
 * complete, decompresses bz2 and xz (and compressed archive members) into
 * plain temporary files, extracts archive members, and on the way counts
 * the lines of every line-oriented file and notes its blank ones, so that
 * ingest.c can give each bronze row the line it came from.
 */
#ifndef SM_INGEST_INT_H
#define SM_INGEST_INT_H

#include "ingest.h"

/* Compression of a file, from the end of its name. */
enum ing_comp { ING_COMP_NONE, ING_COMP_GZIP, ING_COMP_ZSTD, ING_COMP_BZIP2, ING_COMP_XZ };

/* The compression name ends with, and the length of that suffix (".gz" 3). */
enum ing_comp ing_comp_of(const char *name, size_t *out_suffix_len);
const char *ing_comp_name(enum ing_comp c);
/* Whether name is an archive smelt opens member by member: .zip, .tar,
 * .tar.gz, .tgz, .tar.zst, .tar.bz2, .tar.xz. */
bool ing_is_archive(const char *name);

/*
 * The top-level keys of an NDJSON file's lines, or of a JSON document's
 * records (ndkeys.c), so that schema drift sees a key however deep in the
 * file it first appears. Every line shaped like a JSON object gives its
 * keys. Loose on purpose: a line DuckDB reads as an object is never missed,
 * a broken one may add a key.
 */
struct ing_key_span {
    const char *p; /* borrowed from the line */
    size_t len;
};
struct ing_raw_key;
struct ing_keys {
    char **names; /* the distinct keys, unescaped, in order of first appearance */
    size_t n, alloc;
    bool any;            /* some line was shaped like an object */
    const char *refused; /* static text: the file has too many keys to keep (then set aside) */
    /* ndkeys.c's own: the keys as written, the current line's keys */
    struct ing_raw_key *raw;
    size_t nraw, rawalloc, bytes, hint;
    struct sm_map by_raw, by_name;
    struct ing_key_span *line;
    size_t nline, linealloc;
    struct sm_buf tmp;
};
/* Take the keys of one line (without its '\n'), if it is shaped like an object. */
void ing_keys_line(struct ing_keys *k, const char *p, size_t n);
/* Take the keys of the records of the JSON document at path (the elements
 * of its top-level array, or the top-level object), when it is valid JSON
 * (jscan); SM_EIO when it cannot be read. */
int ing_keys_of_records(struct ing_keys *k, const char *path, struct sm_err *err) SM_MUST_USE;
void ing_keys_release(struct ing_keys *k);

/*
 * Line facts of a text file. Blank lines matter because DuckDB skips them
 * (CSV with more than one column: empty lines; read_json: whitespace-only
 * lines) but counts them in its line numbers, so a row's line is its
 * position plus the blank (and rejected) lines before it.
 */
struct ing_lines {
    bool ws_blank;     /* in: lines of only spaces, tabs and CRs are blank (NDJSON);
                          otherwise only "" and "\r" are */
    size_t head_lines; /* in: keep the text of the first head_lines lines ... */
    size_t head_max;   /* in: ... but at most head_max bytes of whole lines */
    bool want_keys;    /* in: find the top-level keys of every line (NDJSON) */
    struct ing_keys keys;
    struct sm_buf head; /* the kept lines, each ending in '\n' */
    bool head_done;
    int64_t nlines; /* lines seen, a last line without '\n' included */
    int64_t *blank; /* 1-based numbers of blank lines, ascending */
    size_t nblank, alloc;
    /* scanner state */
    int64_t cur_len;
    bool cur_nonblank;
    struct sm_buf partial; /* want_keys: the start of a line the last feed cut */
    bool partial_over;     /* ... which is longer than any reader takes: not looked at */
};
/* Zero l and take the "in" fields from proto (may be NULL). */
void ing_lines_init(struct ing_lines *l, const struct ing_lines *proto);
void ing_lines_feed(struct ing_lines *l, const char *buf, size_t n);
void ing_lines_finish(struct ing_lines *l);
void ing_lines_release(struct ing_lines *l);

/*
 * The decompression-bomb guard (project key defaults.max_expansion): a
 * stream that has put out more than ING_BOMB_FLOOR bytes and more than
 * max_expansion times the compressed bytes it was read from is stopped,
 * SM_EPARSE saying why, so the file (or member) is quarantined rather than
 * filling the disk. Real data rarely compresses better than 100:1; deflate
 * cannot pass about 1030:1, zstd, bzip2 and xz can go far beyond. A
 * max_expansion <= 0 turns the check off.
 */
#define ING_BOMB_FLOOR ((int64_t)64 << 20)
int ing_bomb_check(int64_t in, int64_t out, int max_expansion, struct sm_err *err) SM_MUST_USE;

/* Read path through compression comp (ING_COMP_NONE: as it is), checking
 * that a compressed stream is complete and of that kind; feed the plain
 * bytes to lines (may be NULL) and write them to out_path (may be NULL).
 * SM_EPARSE with the reason when the data is corrupt or cut short, or
 * expands more than max_expansion times (ing_bomb_check). */
int ing_unpack(const char *path, enum ing_comp comp, const char *out_path, struct ing_lines *lines,
               int max_expansion, struct sm_err *err) SM_MUST_USE;

/* SQL for DuckDB's readers (load.c): ", key='v'" (nothing when v is NULL);
 * a CSV source's delim, quote, escape and nullstr options. */
void ing_add_sql_opt(struct sm_buf *b, const char *key, const char *v);
void ing_add_csv_dialect(struct sm_buf *b, const struct prj_source *src);

/* Check that a gzip file is complete and uncorrupted (DuckDB reads a
 * truncated gzip stream without complaint) and not a bomb, feeding the
 * inflated bytes to lines (may be NULL). When the file was small enough
 * to inflate in memory and its plain text is at most plain_room bytes (or
 * the file has bytes after its gzip data, which DuckDB refuses, and there
 * is no plain_path), *out_plain_fd is a file in memory (memfd) holding the
 * plain text, for DuckDB to read as /proc/self/fd/N instead of inflating
 * the file again; else -1, and with plain_path (may be NULL) the plain
 * text is written to plain_path instead (removed again on failure). 0,
 * or SM_EPARSE with why (SM_EIO: the plain copy could not be written). */
int ing_check_gzip_lines(const char *path, struct ing_lines *lines, int max_expansion,
                         int64_t plain_room, const char *plain_path, int *out_plain_fd,
                         struct sm_err *err) SM_MUST_USE;
/* Tests only (fuzz_unpack compares the two paths): true makes
 * ing_check_gzip_lines() skip libdeflate and take zlib's streaming path. */
extern bool ing_gzip_streaming_only;

/* One member of an archive, as ing_archive_extract() found it. */
struct ing_member {
    char *name;     /* as shown: the member's path, invalid bytes as '?' */
    char *path;     /* plain-text extracted copy under the temp folder, or
                       /proc/self/fd/<mem_fd>, or NULL */
    bool in_memory; /* path is the memfd mem_fd, closed by ing_members_free
                       unless the caller takes it (in_memory = false) */
    int mem_fd;
    char *refused; /* why it is not loaded, or NULL */
    struct ing_lines lines;
};

/* Whether a member name fits the source (by its extension, after any
 * compression suffix). */
typedef bool (*ing_member_accept_fn)(const struct prj_source *src, const char *name);
/* The one smelt uses: csv .csv .txt; tsv .tsv .tab .txt; ndjson .ndjson
 * .jsonl .json; json .json; parquet .parquet .pq (load.c). */
bool ing_member_fits(const struct prj_source *src, const char *name);

/* Extract the regular-file members of the archive at path into tmpdir
 * (files named m<N>, decompressed when the member is compressed), skipping
 * folders and refusing unsafe names, links, special files and members
 * accept() rejects. A plain member whose size the archive states goes to
 * a memfd instead while o->mem_room lasts. *out (free with
 * ing_members_free) lists them in archive order. An archive that cannot be
 * read to its end is SM_EPARSE and lists nothing: it is then quarantined
 * whole. Each member's ing_lines is set up from proto (ing_lines_init). A
 * zip is extracted by up to nthreads threads at once, each reading the
 * archive and inflating its share of the members (a zip's members are
 * separate streams); other archives by one. A member that expands more than
 * max_expansion times is refused; members that do so together make the whole
 * archive SM_EPARSE.
 */
struct ing_extract_opts {
    ing_member_accept_fn accept;
    const struct ing_lines *proto; /* may be NULL */
    int nthreads;
    int max_expansion;
    /* bytes of members that may still be kept in memory (memfd) rather
     * than written under tmpdir, shared by threads; NULL: none. Each
     * memory file takes at least ING_MEM_FILE_MIN of it, which bounds the
     * descriptors they hold open. */
    _Atomic int64_t *mem_room;
};
#define ING_MEM_FILE_MIN ((int64_t)1 << 20)
/* What a memory file of size bytes takes of a mem_room. */
static inline int64_t ing_mem_cost(int64_t size)
{
    return size < ING_MEM_FILE_MIN ? ING_MEM_FILE_MIN : size;
}
int ing_archive_extract(const char *path, const char *tmpdir, const struct prj_source *src,
                        const struct ing_extract_opts *o, struct ing_member **out, size_t *out_n,
                        struct sm_err *err) SM_MUST_USE;
/* A file in memory (memfd) holding data (NULL when len is 0: an empty one
 * to write to): its descriptor, or -1. */
int ing_memory_file(const void *data, size_t len);
void ing_members_free(struct ing_member *m, size_t n);
/* Take ing_mem_cost(size) of *room (NULL: none) if that much is left. */
bool ing_take_room(_Atomic int64_t *room, int64_t size);
/* Why a symbolic link, or a device, FIFO or socket member is refused. */
extern const char ing_refusal_symlink[], ing_refusal_special[];

/* zip.c: a zip extracted as ing_archive_extract() does, without libarchive,
 * when the archive is plain (no zip64, encryption or methods but store and
 * deflate, ASCII names, plain members of at most 256 MB): 0 or an error;
 * ING_ZIP_DECLINED, having done nothing, when it is not. */
enum { ING_ZIP_DECLINED = 1 };
int ing_zip_extract(const char *path, const char *tmpdir, const struct prj_source *src,
                    const struct ing_extract_opts *o, struct ing_member **out, size_t *out_n,
                    struct sm_err *err) SM_MUST_USE;
/* Tests: every zip goes to libarchive. */
extern bool ing_zip_libarchive_only;

/* --- REST sources (rest.c) ----------------------------------------------------
 * ing_land() and ing_load_bronze() hand sources of kind rest to these, so
 * callers see one interface for every kind. */
struct tbl_commit;
struct tbl_snapshot;

/* The _ingested_at and _quarantined_at a load gives each batch: the run's
 * time, or, when bronze is rebuilt, the time the table had for the batch. */
struct ing_times {
    const char *run;        /* "YYYY-MM-DD HH:MM:SS.fff" */
    struct sm_map ingested; /* batch_id -> time (owned strings) */
    struct sm_map quarantined;
};
const char *ing_times_ingested(const struct ing_times *t, const char *batch_id);
const char *ing_times_quarantined(const struct ing_times *t, const char *batch_id);

/* Fetch the API page by page into the landing zone (one batch per run, one
 * landed file per new page), then advance the source's watermark. Pages
 * landed before an error stay landed; the watermark moves only when every
 * page landed. files_seen counts pages fetched, files_landed new ones.
 * Each page recorded goes to ov (may be NULL). */
int ing_rest_land(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
                  struct ing_overlap *ov, struct ing_stats *out, struct sm_err *err) SM_MUST_USE;
/* 0 when the landed page is JSON DuckDB can read; SM_EPARSE with the
 * reason otherwise (the page is then quarantined as a file): DuckDB's, or
 * the HTTP status of a child endpoint's answer that was not a success
 * (a 404 for one parent record). */
int ing_rest_check_page(struct eng_db *db, const struct st_landed *page,
                        struct sm_err *err) SM_MUST_USE;
/* Extract and type the records of pages (readable, in id order) into temp
 * tables of db: the bronze rows (ing_rest_select(b, src, "rows")) and the
 * quarantine rows, in the quarantine table's shape (... "rejects");
 * *out_rejected is their count. bronze is the table's current snapshot or
 * NULL. Drop the tables with ing_rest_unstage().
 *
 * *out_lazy says that the rows are a view that reads the pages when it is
 * read, with types DuckDB inferred from a sample of them: reading it can
 * then fail on a page whose values do not fit, and the caller should
 * unstage and stage again with general set, which reads and types every
 * record before returning. */
int ing_rest_stage(struct eng_db *db, const struct prj_project *p, const struct prj_source *src,
                   const struct tbl_snapshot *bronze, const struct st_landed **pages, size_t n,
                   const struct ing_times *times, bool general, int64_t *out_rejected,
                   bool *out_lazy, struct sm_err *err) SM_MUST_USE;
void ing_rest_select(struct sm_buf *b, const struct prj_source *src, const char *what);
void ing_rest_unstage(struct eng_db *db, const struct prj_source *src);
/* The temporary table of pages (path, url, batch_id, page_id, parent,
 * ing_at, q_at) that the SELECTs below join their records to; replaced
 * by each call, dropped by ing_rest_unstage(). */
int ing_rest_pages_table(struct eng_db *db, const struct prj_source *src,
                         const struct st_landed **pages, size_t n, const struct ing_times *times,
                         struct sm_err *err) SM_MUST_USE;

/* How the fast path of ing_rest_stage() reads a batch: the documents'
 * type, from DuckDB's inference over a sample of the pages (the first 32),
 * and the records' fields. Made for the first pages of a batch, it reads
 * the later ones too when ing_rest_plan_fits() each of them. */
struct ing_rest_plan {
    struct sm_buf type;   /* STRUCT(...) of a page document, for read_json's columns= */
    struct sm_buf cols;   /* the record fields as bronze gets them, a select list */
    bool list;            /* the records are a list (else one object a page) */
    bool fit;             /* bronze's columns differ: the batch must be made to fit them */
    struct sm_map fields; /* the fields' names */
};
/* A plan for pages of src (a source without declared columns or parent),
 * bronze its table or NULL; false when the fast path does not apply (a
 * page not found to be JSON when it landed, records that are not
 * objects), and then *out holds nothing. Release with
 * ing_rest_plan_release(). */
bool ing_rest_plan_init(struct eng_db *db, const struct prj_source *src,
                        const struct tbl_snapshot *bronze, const struct st_landed **pages, size_t n,
                        struct ing_rest_plan *out);
/* Whether page was found to be JSON when it landed, with records that are
 * objects whose keys are all fields of the plan. */
bool ing_rest_plan_fits(const struct ing_rest_plan *pl, const struct st_landed *page);
/* Append the SELECT of the bronze rows of pages (non-empty, each fitting
 * the plan, all in the pages table): the fields, then _batch_id,
 * _source_file (the path from character skip on), _ingested_at and
 * _source_url. A value that does not fit its field's type fails the
 * query that reads it. */
void ing_rest_plan_select(struct sm_buf *b, const struct ing_rest_plan *pl,
                          const struct prj_source *src, const struct st_landed **pages, size_t n,
                          size_t skip);
void ing_rest_plan_release(struct ing_rest_plan *pl);

/* --- bronze while landing (overlap.c) ---------------------------------------- */

/* A page just recorded for the source, for the overlap to read (copied).
 * ov may be NULL. */
void ing_overlap_add(struct ing_overlap *ov, const struct st_landed *page);
/* End the landing, wait for every page handed over to be read, and give
 * the commit that adds their data files when files (the n pages the load
 * is to read, in id order) are exactly those pages and bronze is at the
 * version it was when the overlap started; otherwise NULL, with the
 * files removed. The caller owns the commit. */
struct tbl_commit *ing_overlap_take(struct ing_overlap *ov, const struct tbl_snapshot *bronze,
                                    const struct st_landed *files, size_t n);
/* End the landing, wait for the thread, remove the data files no commit
 * took: from here db is the caller's again. Again is a no-op; so is NULL. */
void ing_overlap_end(struct ing_overlap *ov);

#endif
