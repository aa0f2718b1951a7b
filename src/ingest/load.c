/*
 * load.c — the bronze load: every file landed for a source and not yet in
 * bronze.<src> is read by DuckDB into one Delta commit, its unparseable
 * lines and unreadable files into quarantine.<src>. REST pages are read by
 * rest.c; ing_load_bronze() hands them over where reading differs.
 *
 * A load of files goes in four steps:
 *
 *  1. prepare — each landed file, on as many threads as the project's
 *     `threads`, is read to its end when compressed (DuckDB reads a cut
 *     stream without complaint), unpacked when DuckDB cannot read it (bz2,
 *     xz, archive members) and its lines counted, blank ones noted: the
 *     *units* DuckDB reads, or things quarantined whole.
 *  2. schema — each unit's columns (a CSV's header line, the keys of an
 *     NDJSON file's first lines, what DuckDB finds in a JSON or Parquet
 *     file) are compared with the contract: the declared columns, else the
 *     bronze table's. schema_drift decides what a difference does: evolve
 *     adds new columns (a missing one is NULL), fail stops the load naming
 *     the file and columns, quarantine sets the file aside.
 *  3. write — a load of fewer units than threads, some of which DuckDB
 *     can read on several threads (uncompressed), is staged: read into a
 *     temporary table in scan order on every thread, then written with the
 *     lines, the rejected ones known by then. Otherwise the units are
 *     shared out among as many jobs as threads. A
 *     job is one COPY on a DuckDB connection of its own that reads its
 *     units one after the other and numbers each unit's rows with
 *     row_number() OVER (), which DuckDB computes in scan order, so the
 *     row's line (_source_line: its number, plus the header and the blank
 *     lines before it) is written in the same pass as the row. The job's
 *     rejected lines go to a temporary Parquet file. A job whose units had
 *     rejected lines has its numbers fixed afterwards (a rejected line is a
 *     gap too) by rewriting its one data file. A job that fails has its
 *     units tried one by one: a CSV only DuckDB's strict mode refuses is
 *     read relaxed, an NDJSON file with bad lines is read line by line (and
 *     each bad line quarantined), anything else is quarantined whole; the
 *     rest is written again.
 *  4. commit — quarantine first, then bronze, each with the txn marker of
 *     the highest landed-file id loaded (see ingest.h), or, for a rebuild,
 *     one overwrite of each table.
 *
 * Invariants: the landing zone is only read; every temporary file is under
 * .smelt/tmp/ingest-<src>, removed at the end; a data file written but not
 * recorded in the commit is removed, so nothing a reader could mistake for
 * table data is left behind by a failed load.
 */
#include "ingest_int.h"

#include <strings.h>
#include <sys/stat.h>

#include "table/table.h"

/* --- what is read -------------------------------------------------------------- */

/* A unit is one thing DuckDB reads: a landed file in place, its
 * decompressed copy, or an archive member extracted to a temporary file. */
struct unit {
    const struct st_landed *file; /* the landed file it comes from */
    char *read_path;              /* what DuckDB opens */
    char *source_file;            /* _source_file: relative to the lake, "...!member" */
    bool plain;                   /* read_path is uncompressed whatever its name */
    bool in_memory;               /* read_path is /proc/self/fd/<mem_fd>, a memfd */
    int mem_fd;
    bool relaxed;     /* CSV: read with strict mode off */
    bool by_line;     /* NDJSON: read line by line (some line is bad); JSON: record by record */
    bool gone;        /* found unreadable after all: quarantined whole */
    bool have_lines;  /* lines below were counted */
    bool keys_unseen; /* JSON that DuckDB decompresses itself: lines.keys were not looked for */
    struct ing_lines lines;
    /* The columns read from the unit and as what type, in the unit's order;
     * NULL: the declared ones. Parquet: the file's own types. */
    struct prj_column *cols;
    size_t ncols;
    int64_t *gaps; /* lines that are not rows: blank (where skipped), rejected */
    size_t ngaps, gapalloc;
};

/* Something read that is quarantined whole: a file, a member, an archive. */
struct bad {
    char *source_file;
    const char *batch_id;
    char *error;
    const char *error_type;
};

/* What prepare_file() makes of one landed file, on a thread of its own. */
struct prepared {
    struct unit *u;
    size_t nu, ualloc;
    struct bad *bad;
    size_t nbad, badalloc;
    int rc;
    struct sm_err err;
};

struct load {
    struct eng_db *db;
    const struct prj_project *p;
    const struct prj_source *src;
    const struct ing_times *times;
    const struct tbl_snapshot *bsnap; /* bronze as it is, or NULL */
    struct ing_stats *stats;
    size_t skip; /* strlen(lake) + 2: SQL substr() start of the lake-relative path */
    char *tmpdir;
    struct unit *u;
    size_t nu, ualloc;
    struct bad *bad;
    size_t nbad, badalloc;
    /* The data columns of bronze, in order: declared, then the table's
     * others, then new ones (evolve). fixed: how many came from the
     * declaration or the table, whose types do not change. */
    struct prj_column *out;
    size_t nout, outalloc, fixed;
    struct sm_map castable; /* "FROM\tTO" -> (void *)1 or (void *)2: cache */
    bool rebuild;           /* bronze is replaced, not appended to */
    bool rej;               /* smelt_rej exists */
    bool by_line_staged;
    int file_threads;     /* threads one archive may be extracted with */
    int64_t memory_limit; /* DuckDB's, in bytes; 0: unknown */
    /* bytes of plain copies (.gz files, archive members) the preparation
     * may still keep in memory; see PLAIN_BUDGET */
    _Atomic int64_t *plain_room;
};

/* Plain copies of gzip files and archive members in memory (memfd), at
 * most this much of them per load, and at most a quarter of DuckDB's
 * memory_limit (and, each counting at least ING_MEM_FILE_MIN, at most 256
 * such files open); beyond it, gzip files are inflated by DuckDB again (or,
 * few, kept on disk) and members written to the temporary folder. In
 * memory, the copies cost neither a second inflate nor the file system's
 * work. */
#define PLAIN_BUDGET ((int64_t)256 << 20)

enum { HEAD_BYTES = 1 << 16 };
/* Lines (or 64-byte units of files without lines) worth a job of their own. */
enum { JOB_MIN_WEIGHT = 100000 };

static bool line_oriented(const struct prj_source *src)
{
    return src->format == PRJ_FMT_CSV || src->format == PRJ_FMT_TSV ||
           src->format == PRJ_FMT_NDJSON;
}

static bool csv_like(const struct prj_source *src)
{
    return src->format == PRJ_FMT_CSV || src->format == PRJ_FMT_TSV;
}

static bool json_like(const struct prj_source *src)
{
    return src->format == PRJ_FMT_NDJSON || src->format == PRJ_FMT_JSON;
}

/* Header lines before the first row. */
static int64_t header_lines(const struct prj_source *src)
{
    return csv_like(src) && src->header ? 1 : 0;
}

static void free_columns(struct prj_column *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].type);
    }
    free(c);
}

static void add_column(struct prj_column **cols, size_t *n, size_t *alloc, const char *name,
                       const char *type)
{
    SM_ALLOC_GROW(*cols, *n + 1, *alloc);
    memset(&(*cols)[*n], 0, sizeof(**cols));
    (*cols)[*n].name = sm_strdup(name);
    (*cols)[*n].type = sm_strdup(type);
    (*n)++;
}

/* The column named name (DuckDB compares names without case), or NULL. */
static struct prj_column *find_column(struct prj_column *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(cols[i].name, name))
            return &cols[i];
    return NULL;
}

static bool is_nested(const char *t)
{
    return strchr(t, '[') || strcasestr(t, "STRUCT") || strcasestr(t, "MAP(") ||
           strcasestr(t, "UNION") || !strcasecmp(t, "JSON");
}

/* A type a bronze column can have: nested values are stored as their JSON
 * text (the Delta writer stores scalars only), NULL-only ones as text. */
static const char *storable(const char *t)
{
    return is_nested(t) || !strcasecmp(t, "NULL") ? "VARCHAR" : t;
}

static bool provenance_col(const char *name)
{
    return !strcmp(name, "_batch_id") || !strcmp(name, "_source_file") ||
           !strcmp(name, "_ingested_at") || !strcmp(name, "_source_line");
}

static int load_threads(const struct prj_project *p)
{
    long n = p->threads > 0 ? p->threads : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static void bad_add(struct bad **arr, size_t *n, size_t *alloc, char *source_file,
                    const char *batch_id, const char *error, const char *type)
{
    SM_ALLOC_GROW(*arr, *n + 1, *alloc);
    struct bad *b = &(*arr)[(*n)++];
    b->source_file = source_file;
    b->batch_id = batch_id;
    b->error = sm_strdup(error);
    b->error_type = type;
}

/* DuckDB's message about unit u, with the path it read (a temporary or
 * in-memory copy) shown as the file it came from. */
static char *named_as_source(const struct unit *u, const char *msg)
{
    struct sm_buf b = SM_BUF_INIT;
    size_t n = strlen(u->read_path);
    if (!n)
        return sm_strdup(msg);
    for (const char *p = msg, *hit; *p; p = hit + n) {
        hit = strstr(p, u->read_path);
        if (!hit) {
            (void)sm_buf_adds(&b, p);
            break;
        }
        (void)sm_buf_addf(&b, "%.*s%s", (int)(hit - p), p, u->source_file);
    }
    return sm_buf_detach(&b);
}

static void unit_release(struct unit *u)
{
    if (u->in_memory)
        close(u->mem_fd);
    free(u->read_path);
    free(u->source_file);
    ing_lines_release(&u->lines);
    free_columns(u->cols, u->ncols);
    free(u->gaps);
    memset(u, 0, sizeof(*u));
}

/* --- step 1: prepare -------------------------------------------------------------- */

bool ing_member_fits(const struct prj_source *src, const char *name)
{
    static const char *const ext[][4] = {
        [PRJ_FMT_CSV] = {".csv", ".txt", NULL},
        [PRJ_FMT_TSV] = {".tsv", ".tab", ".txt", NULL},
        [PRJ_FMT_NDJSON] = {".ndjson", ".jsonl", ".json", NULL},
        [PRJ_FMT_JSON] = {".json", NULL},
        [PRJ_FMT_PARQUET] = {".parquet", ".pq", NULL},
    };
    size_t cut = 0;
    (void)ing_comp_of(name, &cut);
    size_t n = strlen(name) - cut;
    for (size_t i = 0; ext[src->format][i]; i++) {
        size_t k = strlen(ext[src->format][i]);
        if (n > k && !strncasecmp(name + n - k, ext[src->format][i], k))
            return true;
    }
    return false;
}

/* How each unit's lines are counted, and what the schema step is given
 * on the way: a CSV's header line, the keys of every NDJSON line. */
static void lines_proto(const struct prj_source *src, struct ing_lines *proto)
{
    memset(proto, 0, sizeof(*proto));
    proto->ws_blank = src->format == PRJ_FMT_NDJSON;
    proto->want_keys = src->format == PRJ_FMT_NDJSON;
    if (csv_like(src) && src->header)
        proto->head_lines = 1;
    proto->head_max = HEAD_BYTES;
}

static struct unit *prepared_unit(struct prepared *pr, const struct st_landed *f, char *read_path,
                                  char *source_file, bool plain)
{
    SM_ALLOC_GROW(pr->u, pr->nu + 1, pr->ualloc);
    struct unit *u = &pr->u[pr->nu++];
    memset(u, 0, sizeof(*u));
    u->file = f;
    u->read_path = read_path;
    u->source_file = source_file;
    u->plain = plain;
    return u;
}

/* Turn the landed file f into units (or quarantined things) in pr. Reads
 * only what it is given: safe on any thread. */
static int prepare_file(const struct load *ld, const struct st_landed *f, size_t idx,
                        struct prepared *pr)
{
    struct sm_err *err = &pr->err;
    const char *rel = f->landing_path + ld->skip - 1;
    bool lines = line_oriented(ld->src);
    struct ing_lines proto;
    lines_proto(ld->src, &proto);
    struct sm_err e = SM_ERR_INIT;
    if (ing_is_archive(f->landing_path)) {
        struct ing_member *ms = NULL;
        size_t nm = 0;
        char *dir = sm_asprintf("%s/a%zu", ld->tmpdir, idx);
        int rc = sm_mkdirs(dir, err);
        struct ing_extract_opts o = {.accept = ing_member_fits,
                                     .proto = &proto,
                                     .nthreads = ld->file_threads,
                                     .max_expansion = ld->p->max_expansion,
                                     .mem_room = ld->plain_room};
        if (!rc && ing_archive_extract(f->landing_path, dir, ld->src, &o, &ms, &nm, &e))
            rc = -1;
        free(dir);
        if (rc > 0)
            return rc;
        if (rc) {
            if (e.code != SM_EPARSE)
                return sm_err_set(err, e.code, "%s", e.msg);
            bad_add(&pr->bad, &pr->nbad, &pr->badalloc, sm_strdup(rel), f->batch_id, e.msg,
                    "UNREADABLE FILE");
            return 0;
        }
        for (size_t i = 0; i < nm; i++) {
            char *sf = sm_asprintf("%s!%s", rel, ms[i].name);
            const char *refused = ms[i].refused ? ms[i].refused : ms[i].lines.keys.refused;
            if (refused) {
                bad_add(&pr->bad, &pr->nbad, &pr->badalloc, sf, f->batch_id, refused,
                        "UNREADABLE FILE");
                continue;
            }
            struct unit *u = prepared_unit(pr, f, ms[i].path, sf, true);
            u->in_memory = ms[i].in_memory;
            u->mem_fd = ms[i].mem_fd;
            ms[i].path = NULL;
            ms[i].in_memory = false;
            u->lines = ms[i].lines;
            u->have_lines = lines;
            memset(&ms[i].lines, 0, sizeof(ms[i].lines));
        }
        ing_members_free(ms, nm);
        return 0;
    }
    enum ing_comp comp = ing_comp_of(f->landing_path, NULL);
    struct ing_lines li;
    ing_lines_init(&li, &proto);
    char *tmp = NULL;
    int rc = 0, memfd = -1;
    switch (comp) {
    case ING_COMP_GZIP: {
        /* The check inflates the file anyway: kept in memory while the
         * budget lasts, DuckDB reads it without inflating it again. With
         * fewer files than threads, a file past the budget is kept on disk
         * instead: DuckDB reads a plain file on every thread, a .gz on one
         * (a 1.2 GB CSV as gzip: bronze 9.8 s, through a plain copy 6.8 s;
         * bench/bigfile.sh). */
        char *disk = ld->file_threads > 1 ? sm_asprintf("%s/f%zu", ld->tmpdir, idx) : NULL;
        int64_t room = atomic_load(ld->plain_room);
        rc = ing_check_gzip_lines(f->landing_path, lines ? &li : NULL, ld->p->max_expansion, room,
                                  disk, &memfd, &e);
        if (rc == SM_EIO && disk) { /* no room on disk, say: read the .gz itself */
            sm_debug("cannot keep a plain copy of '%s' (%s); DuckDB reads the gzip file", rel,
                     e.msg);
            free(disk);
            disk = NULL;
            memset(&e, 0, sizeof(e));
            ing_lines_release(&li);
            ing_lines_init(&li, &proto);
            rc = ing_check_gzip_lines(f->landing_path, lines ? &li : NULL, ld->p->max_expansion,
                                      room, NULL, &memfd, &e);
        }
        struct stat sb;
        if (memfd >= 0 && !fstat(memfd, &sb)) {
            atomic_fetch_sub(ld->plain_room, ing_mem_cost((int64_t)sb.st_size));
            tmp = sm_asprintf("/proc/self/fd/%d", memfd);
        } else if (memfd >= 0) {
            close(memfd);
            memfd = -1;
        } else if (!rc && disk) {
            sm_debug("'%s': its plain text kept on disk for DuckDB to read on every thread", rel);
            tmp = disk;
            disk = NULL;
        }
        free(disk);
        break;
    }
    case ING_COMP_BZIP2:
    case ING_COMP_XZ: /* DuckDB cannot read these: a plain copy */
        tmp = sm_asprintf("%s/f%zu", ld->tmpdir, idx);
        rc = ing_unpack(f->landing_path, comp, tmp, lines ? &li : NULL, ld->p->max_expansion, &e);
        break;
    case ING_COMP_ZSTD: /* DuckDB reads it, but a cut stream without complaint */
    case ING_COMP_NONE:
        if (comp != ING_COMP_NONE || lines)
            rc = ing_unpack(f->landing_path, comp, NULL, lines ? &li : NULL, ld->p->max_expansion,
                            &e);
        break;
    }
    if (!rc && li.keys.refused)
        rc = sm_err_set(&e, SM_EPARSE, "%s", li.keys.refused);
    if (rc) {
        ing_lines_release(&li);
        if (memfd >= 0)
            close(memfd);
        free(tmp);
        if (e.code != SM_EPARSE)
            return sm_err_set(err, e.code, "%s", e.msg);
        bad_add(&pr->bad, &pr->nbad, &pr->badalloc, sm_strdup(rel), f->batch_id, e.msg,
                "UNREADABLE FILE");
        return 0;
    }
    struct unit *u =
        prepared_unit(pr, f, tmp ? tmp : sm_strdup(f->landing_path), sm_strdup(rel), tmp != NULL);
    u->in_memory = memfd >= 0;
    u->mem_fd = memfd;
    u->lines = li;
    u->have_lines = lines;
    return 0;
}

struct prep_ctx {
    const struct load *ld;
    const struct st_landed *files;
    struct prepared *out;
};

/* The keys of the records of the JSON documents among pr's units from
 * index first on (NDJSON's are found as their lines are counted); a unit
 * with too many is set aside. */
static int json_keys(struct prepared *pr, size_t first)
{
    size_t keep = first;
    int rc = 0;
    for (size_t i = first; i < pr->nu; i++) {
        struct unit *u = &pr->u[i];
        if (rc) /* an error stops the load: only keep every unit once */
            ;
        else if (!u->plain && ing_comp_of(u->read_path, NULL) != ING_COMP_NONE)
            u->keys_unseen = true;
        else if (ing_keys_of_records(&u->lines.keys, u->read_path, &pr->err))
            rc = pr->err.code;
        if (!rc && u->lines.keys.refused) {
            bad_add(&pr->bad, &pr->nbad, &pr->badalloc, sm_strdup(u->source_file),
                    u->file->batch_id, u->lines.keys.refused, "UNREADABLE FILE");
            unit_release(u);
            continue;
        }
        if (keep != i)
            pr->u[keep] = *u;
        keep++;
    }
    pr->nu = keep;
    return rc;
}

static void prep_one(size_t i, void *arg)
{
    struct prep_ctx *pc = arg;
    struct prepared *pr = &pc->out[i];
    size_t first = pr->nu;
    /* an empty file has no rows; it stays in landing */
    if (pc->files[i].size > 0)
        pr->rc = prepare_file(pc->ld, &pc->files[i], i, pr);
    if (!pr->rc && pc->ld->src->format == PRJ_FMT_JSON)
        pr->rc = json_keys(pr, first);
}

/* Prepare every file, files in parallel, and gather the units and the
 * quarantined things in file order. */
static int prepare_all(struct load *ld, const struct st_landed *files, size_t nfiles,
                       struct sm_err *err)
{
    struct prepared *pr = sm_calloc(nfiles ? nfiles : 1, sizeof(*pr));
    size_t nt = (size_t)load_threads(ld->p);
    /* fewer files than threads: the threads left over help with archives */
    ld->file_threads = nfiles && nfiles < nt ? (int)(nt / nfiles) : 1;
    int64_t quarter = ld->memory_limit / 4;
    _Atomic int64_t room = quarter && quarter < PLAIN_BUDGET ? quarter : PLAIN_BUDGET;
    ld->plain_room = &room;
    struct prep_ctx pc = {.ld = ld, .files = files, .out = pr};
    sm_parallel_for(nfiles, nt, prep_one, &pc);
    ld->plain_room = NULL;
    int rc = 0;
    for (size_t i = 0; i < nfiles; i++) {
        if (pr[i].rc && !rc)
            rc = sm_err_set(err, pr[i].rc, "%s", pr[i].err.msg);
        for (size_t k = 0; k < pr[i].nu; k++) {
            SM_ALLOC_GROW(ld->u, ld->nu + 1, ld->ualloc);
            ld->u[ld->nu++] = pr[i].u[k];
        }
        for (size_t k = 0; k < pr[i].nbad; k++) {
            SM_ALLOC_GROW(ld->bad, ld->nbad + 1, ld->badalloc);
            ld->bad[ld->nbad++] = pr[i].bad[k];
        }
        free(pr[i].u);
        free(pr[i].bad);
    }
    free(pr);
    return rc;
}

/* --- reading a unit --------------------------------------------------------------- */

void ing_add_sql_opt(struct sm_buf *b, const char *key, const char *v)
{
    if (!v)
        return;
    (void)sm_buf_addf(b, ", %s=", key);
    (void)sm_buf_add_sql_str(b, v);
}

void ing_add_csv_dialect(struct sm_buf *b, const struct prj_source *src)
{
    ing_add_sql_opt(b, "delim", src->delimiter);
    ing_add_sql_opt(b, "quote", src->quote);
    ing_add_sql_opt(b, "escape", src->escape);
    if (src->null_strings.n) {
        (void)sm_buf_adds(b, ", nullstr=[");
        for (size_t i = 0; i < src->null_strings.n; i++) {
            if (i)
                (void)sm_buf_addc(b, ',');
            (void)sm_buf_add_sql_str(b, src->null_strings.v[i]);
        }
        (void)sm_buf_adds(b, "]");
    }
}

static void add_columns_struct(struct sm_buf *b, const struct prj_column *cols, size_t n)
{
    (void)sm_buf_adds(b, "columns={");
    for (size_t i = 0; i < n; i++) {
        if (i)
            (void)sm_buf_adds(b, ", ");
        (void)sm_buf_add_sql_str(b, cols[i].name);
        (void)sm_buf_adds(b, ": ");
        (void)sm_buf_add_sql_str(b, cols[i].type);
    }
    (void)sm_buf_adds(b, "}");
}

/* The CSV options every read_csv of the source takes. */
static void add_csv_options(struct sm_buf *b, const struct prj_source *src)
{
    ing_add_csv_dialect(b, src);
    ing_add_sql_opt(b, "dateformat", src->date_format);
    ing_add_sql_opt(b, "timestampformat", src->timestamp_format);
}

/* The columns unit u is read with (see struct unit). */
static void unit_columns(const struct load *ld, const struct unit *u, const struct prj_column **out,
                         size_t *n)
{
    *out = u->cols ? u->cols : ld->src->columns;
    *n = u->cols ? u->ncols : ld->src->ncolumns;
}

/* The table function that reads unit u: read_csv(...), read_json(...) or
 * read_parquet(...), with its columns and the source's options. A CSV's
 * rejected lines go to the tables smelt_rejects<rej> and
 * smelt_reject_scans<rej>: DuckDB keeps its rejects bookkeeping per
 * database, by table name, so jobs running at once need names of their
 * own. */
static void add_reader(struct sm_buf *b, const struct load *ld, const struct unit *u,
                       const char *rej)
{
    const struct prj_source *src = ld->src;
    const struct prj_column *cols;
    size_t ncols;
    unit_columns(ld, u, &cols, &ncols);
    switch (src->format) {
    case PRJ_FMT_CSV:
    case PRJ_FMT_TSV:
        (void)sm_buf_adds(b, "read_csv(");
        (void)sm_buf_add_sql_str(b, u->read_path);
        (void)sm_buf_adds(b, ", ");
        add_columns_struct(b, cols, ncols);
        (void)sm_buf_addf(b, ", header=%s, auto_detect=false", src->header ? "true" : "false");
        add_csv_options(b, src);
        if (u->plain)
            (void)sm_buf_adds(b, ", compression='uncompressed'");
        if (u->relaxed)
            (void)sm_buf_adds(b, ", strict_mode=false");
        (void)sm_buf_addf(b,
                          ", store_rejects=true, rejects_table='smelt_rejects%s', "
                          "rejects_scan='smelt_reject_scans%s')",
                          rej, rej);
        break;
    case PRJ_FMT_NDJSON:
    case PRJ_FMT_JSON:
        (void)sm_buf_adds(b, "read_json(");
        (void)sm_buf_add_sql_str(b, u->read_path);
        (void)sm_buf_addf(b, ", format='%s'",
                          src->format == PRJ_FMT_NDJSON ? "newline_delimited" : "array");
        if (ncols) {
            (void)sm_buf_adds(b, ", ");
            add_columns_struct(b, cols, ncols);
        }
        ing_add_sql_opt(b, "dateformat", src->date_format);
        ing_add_sql_opt(b, "timestampformat", src->timestamp_format);
        if (u->plain)
            (void)sm_buf_adds(b, ", compression='uncompressed'");
        (void)sm_buf_adds(b, ")");
        break;
    case PRJ_FMT_PARQUET:
        (void)sm_buf_adds(b, "read_parquet(");
        (void)sm_buf_add_sql_str(b, u->read_path);
        (void)sm_buf_adds(b, ")");
        break;
    }
}

static void add_ts(struct sm_buf *b, const char *ts)
{
    (void)sm_buf_adds(b, "CAST(");
    (void)sm_buf_add_sql_str(b, ts);
    (void)sm_buf_adds(b, " AS TIMESTAMP)");
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* How many of thr[lo..hi) (ascending) are below the SQL value k: a binary
 * search written as nested CASEs, a few comparisons per row whatever the
 * number of thresholds. */
static void add_count_below(struct sm_buf *b, const int64_t *thr, size_t lo, size_t hi,
                            const char *k)
{
    if (lo == hi) {
        (void)sm_buf_addf(b, "%zu", lo);
        return;
    }
    size_t mid = lo + (hi - lo) / 2;
    (void)sm_buf_addf(b, "CASE WHEN %s > %lld THEN ", k, (long long)thr[mid]);
    add_count_below(b, thr, mid + 1, hi, k);
    (void)sm_buf_adds(b, " ELSE ");
    add_count_below(b, thr, lo, mid, k);
    (void)sm_buf_adds(b, " END");
}

/*
 * The line of a unit's k-th row (k from 1, in the SQL expression k): the
 * row is on line k + H (header lines) plus one for every gap line before
 * it. With the gap lines past the header n_1 < n_2 < ..., the k-th row
 * comes after gap i exactly when n_i - H - i < k, so
 *     line = k + H + #{ i : thr_i < k },  thr_i = n_i - H - i
 * (thr_i never decreases: n_i grows by 1 at least).
 */
static void add_line_expr(struct sm_buf *b, const struct load *ld, struct unit *u, const char *k)
{
    int64_t h = header_lines(ld->src);
    int64_t *thr = sm_calloc(u->ngaps ? u->ngaps : 1, sizeof(*thr));
    size_t n = 0;
    if (u->ngaps)
        qsort(u->gaps, u->ngaps, sizeof(*u->gaps), cmp_i64);
    for (size_t i = 0; i < u->ngaps; i++) {
        if (u->gaps[i] <= h || (i && u->gaps[i] == u->gaps[i - 1]))
            continue;
        thr[n] = u->gaps[i] - h - (int64_t)(n + 1);
        n++;
    }
    (void)sm_buf_addf(b, "CAST(%s + %lld", k, (long long)h);
    if (n) {
        (void)sm_buf_adds(b, " + ");
        add_count_below(b, thr, 0, n, k);
    }
    (void)sm_buf_adds(b, " AS BIGINT)");
    free(thr);
}

static void gap_add(struct unit *u, int64_t line)
{
    SM_ALLOC_GROW(u->gaps, u->ngaps + 1, u->gapalloc);
    u->gaps[u->ngaps++] = line;
}

/* Blank lines are gaps where the reader skips them: CSV with more than one
 * column (a one-column CSV reads them as NULL rows) and read_json. */
static void add_blank_gaps(const struct load *ld, struct unit *u)
{
    const struct prj_column *cols;
    size_t ncols;
    unit_columns(ld, u, &cols, &ncols);
    bool skipped = (csv_like(ld->src) && ncols > 1) || ld->src->format == PRJ_FMT_NDJSON;
    if (u->have_lines && skipped)
        for (size_t i = 0; i < u->lines.nblank; i++)
            gap_add(u, u->lines.blank[i]);
}

/* One bronze column of unit u: the value as read, cast to the bronze type
 * when the file's own type differs (Parquet), or NULL when the unit has no
 * such column. */
static void add_projection(struct sm_buf *b, const struct load *ld, const struct unit *u,
                           const struct prj_column *oc)
{
    const struct prj_column *cols;
    size_t ncols;
    unit_columns(ld, u, &cols, &ncols);
    const struct prj_column *c = find_column((struct prj_column *)cols, ncols, oc->name);
    struct sm_buf id = SM_BUF_INIT;
    (void)sm_buf_add_sql_ident(&id, c ? c->name : oc->name);
    if (!c)
        (void)sm_buf_addf(b, "CAST(NULL AS %s)", oc->type);
    else if (!strcasecmp(c->type, oc->type))
        (void)sm_buf_adds(b, id.buf);
    else if (is_nested(c->type))
        (void)sm_buf_addf(b, "CAST(to_json(%s) AS VARCHAR)", id.buf);
    else
        (void)sm_buf_addf(b, "CAST(%s AS %s)", id.buf, oc->type);
    (void)sm_buf_adds(b, " AS ");
    (void)sm_buf_add_sql_ident(b, oc->name);
    sm_buf_release(&id);
}

/* SELECT the bronze rows of unit u: its columns as bronze has them, then
 * _batch_id, _source_file, _ingested_at and _source_line, numbered in the
 * scan when numbered (line-oriented formats). */
static void add_unit_select(struct sm_buf *b, const struct load *ld, struct unit *u, bool numbered,
                            const char *rej)
{
    (void)sm_buf_adds(b, "SELECT ");
    for (size_t i = 0; i < ld->nout; i++) {
        add_projection(b, ld, u, &ld->out[i]);
        (void)sm_buf_adds(b, ", ");
    }
    (void)sm_buf_add_sql_str(b, u->file->batch_id);
    (void)sm_buf_adds(b, " AS _batch_id, ");
    (void)sm_buf_add_sql_str(b, u->source_file);
    (void)sm_buf_adds(b, " AS _source_file, ");
    add_ts(b, ing_times_ingested(ld->times, u->file->batch_id));
    (void)sm_buf_adds(b, " AS _ingested_at, ");
    if (numbered && u->have_lines)
        add_line_expr(b, ld, u, "smelt_rn");
    else
        (void)sm_buf_adds(b, "CAST(NULL AS BIGINT)");
    (void)sm_buf_adds(b, " AS _source_line FROM ");
    if (numbered && u->have_lines) {
        (void)sm_buf_adds(b, "(SELECT *, row_number() OVER () AS smelt_rn FROM ");
        add_reader(b, ld, u, rej);
        (void)sm_buf_adds(b, ")");
    } else {
        add_reader(b, ld, u, rej);
    }
}

/* --- step 2: schema --------------------------------------------------------------- */

/* What DuckDB finds in unit u on its own: column names and types (CSV: the
 * header's names, types sniffed). JSON: from a sample of the records, or
 * from all of them when whole. */
static int describe_unit(struct load *ld, const struct unit *u, bool whole, struct prj_column **out,
                         size_t *n, size_t *alloc, struct sm_err *err)
{
    const struct prj_source *src = ld->src;
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "DESCRIBE SELECT * FROM ");
    switch (src->format) {
    case PRJ_FMT_CSV:
    case PRJ_FMT_TSV:
        (void)sm_buf_adds(&q, "read_csv(");
        (void)sm_buf_add_sql_str(&q, u->read_path);
        (void)sm_buf_adds(&q, ", header=true, auto_detect=true");
        add_csv_options(&q, src);
        break;
    case PRJ_FMT_NDJSON:
    case PRJ_FMT_JSON:
        (void)sm_buf_adds(&q, "read_json(");
        (void)sm_buf_add_sql_str(&q, u->read_path);
        if (src->format == PRJ_FMT_NDJSON)
            (void)sm_buf_adds(&q, ", format='newline_delimited', ignore_errors=true");
        else
            (void)sm_buf_adds(&q, ", format='array'");
        if (whole)
            (void)sm_buf_adds(&q, ", sample_size=-1");
        ing_add_sql_opt(&q, "dateformat", src->date_format);
        ing_add_sql_opt(&q, "timestampformat", src->timestamp_format);
        break;
    case PRJ_FMT_PARQUET:
        (void)sm_buf_adds(&q, "read_parquet(");
        (void)sm_buf_add_sql_str(&q, u->read_path);
        break;
    }
    if (u->plain && src->format != PRJ_FMT_PARQUET)
        (void)sm_buf_adds(&q, ", compression='uncompressed'");
    (void)sm_buf_adds(&q, ")");
    struct eng_result *r = NULL;
    int rc = eng_query(ld->db, q.buf, &r, err);
    for (size_t i = 0; !rc && i < eng_result_nrows(r); i++)
        add_column(out, n, alloc, sm_or(eng_result_str(r, 0, i), ""),
                   sm_or(eng_result_str(r, 1, i), "VARCHAR"));
    eng_result_free(r);
    sm_buf_release(&q);
    return rc;
}

/* Does a CSV's first line say exactly the declared names, in order? The
 * common case, decided without asking DuckDB. */
static bool header_is_declared(const struct load *ld, const struct unit *u)
{
    const struct prj_source *src = ld->src;
    const char *h = u->lines.head.len ? u->lines.head.buf : "";
    size_t n = strcspn(h, "\n");
    if (n >= 3 && !memcmp(h, "\xef\xbb\xbf", 3)) {
        h += 3;
        n -= 3;
    }
    if (n && h[n - 1] == '\r')
        n--;
    /* Names written in quotes ("id","v") are the same names: the quote
     * character is left out on both sides. */
    char quote = src->quote ? src->quote[0] : '"';
    struct sm_buf want = SM_BUF_INIT, got = SM_BUF_INIT;
    for (size_t i = 0; i < src->ncolumns; i++) {
        if (i)
            (void)sm_buf_adds(&want, sm_or(src->delimiter, ","));
        for (const char *c = src->columns[i].name; *c; c++)
            if (*c != quote || !quote)
                (void)sm_buf_addc(&want, *c);
    }
    for (size_t i = 0; i < n; i++)
        if (h[i] != quote || !quote)
            (void)sm_buf_addc(&got, h[i]);
    bool same = want.len == got.len && !memcmp(want.buf, got.buf, got.len);
    sm_buf_release(&want);
    sm_buf_release(&got);
    return same;
}

/* The columns a unit has, as the schema step finds them: types "" when
 * unknown (an NDJSON file's keys before DuckDB types them). */
struct keys {
    struct prj_column *c;
    size_t n, alloc;
    bool any; /* NDJSON: some line was an object */
};

/* Unit u's NDJSON keys, every line's (ing_keys), types unknown. */
static void ndjson_keys(const struct unit *u, struct keys *k)
{
    const struct ing_keys *lk = &u->lines.keys;
    k->any = lk->any;
    for (size_t i = 0; i < lk->n; i++)
        if (!find_column(k->c, k->n, lk->names[i]))
            add_column(&k->c, &k->n, &k->alloc, lk->names[i], "");
}

/* Give the keys of k new to bronze DuckDB's types for them, from unit u:
 * from its sample of the file, and from the whole file when a key first
 * appears beyond the sample. */
static void type_new_keys(struct load *ld, const struct unit *u, struct keys *k)
{
    for (int whole = 0; whole < 2; whole++) {
        bool untyped = false;
        for (size_t c = 0; c < k->n && !untyped; c++)
            untyped = !*k->c[c].type && !find_column(ld->out, ld->nout, k->c[c].name);
        if (!untyped)
            return;
        struct keys d = {0};
        struct sm_err e = SM_ERR_INIT;
        if (!describe_unit(ld, u, whole, &d.c, &d.n, &d.alloc, &e))
            for (size_t c = 0; c < d.n; c++) {
                struct prj_column *kc = find_column(k->c, k->n, d.c[c].name);
                if (kc && !*kc->type && !find_column(ld->out, ld->nout, kc->name)) {
                    free(kc->type);
                    kc->type = sm_strdup(d.c[c].type);
                }
            }
        free_columns(d.c, d.n);
        sm_err_clear(&e);
    }
}

/* A JSON or NDJSON unit DuckDB described from its sample: when a record
 * beyond the sample has a key the sample lacks (or the keys could not be
 * looked for), describe the whole file instead. */
static int describe_beyond_sample(struct load *ld, const struct unit *u, struct keys *k,
                                  struct sm_err *err)
{
    const struct ing_keys *lk = &u->lines.keys;
    bool missing = u->keys_unseen;
    for (size_t i = 0; i < lk->n && !missing; i++)
        missing = !find_column(k->c, k->n, lk->names[i]);
    if (!missing)
        return 0;
    free_columns(k->c, k->n);
    k->c = NULL;
    k->n = k->alloc = 0;
    return describe_unit(ld, u, true, &k->c, &k->n, &k->alloc, err);
}

/* Can a value of type from be stored in a column of type to without
 * losing it? The same type, text, a NULL-only JSON column, or what DuckDB
 * casts implicitly (INTEGER to BIGINT, BIGINT to DOUBLE, DATE to
 * TIMESTAMP...). */
static int castable(struct load *ld, const char *from, const char *to, bool *out,
                    struct sm_err *err)
{
    *out = !strcasecmp(from, to) || !strcasecmp(to, "VARCHAR") || !strcasecmp(from, "JSON") ||
           !strcasecmp(from, "NULL");
    if (*out || is_nested(from) || is_nested(to))
        return 0;
    char *key = sm_asprintf("%s\t%s", from, to);
    void *v = sm_map_get(&ld->castable, key);
    int rc = 0;
    if (!v) {
        char *q = sm_asprintf("SELECT CAST(can_cast_implicitly(CAST(NULL AS %s), CAST(NULL AS %s)) "
                              "AS INTEGER)",
                              from, to);
        int64_t yes = 0;
        rc = eng_query_i64(ld->db, q, &yes, err);
        free(q);
        v = (void *)(uintptr_t)(yes ? 1 : 2);
        if (!rc)
            sm_map_put(&ld->castable, key, v);
    }
    *out = v == (void *)1;
    free(key);
    return rc;
}

/* Types the files themselves give (inferred JSON without a declaration,
 * Parquet): only then can a column change type. */
static bool typed_files(const struct prj_source *src)
{
    return src->format == PRJ_FMT_PARQUET || (json_like(src) && !src->ncolumns);
}

/* The differences of one unit from the contract, as text for messages. */
struct drift {
    struct sm_buf added, missing, retyped;
    size_t nadded, nmissing, nretyped;
};

static void drift_release(struct drift *d)
{
    sm_buf_release(&d->added);
    sm_buf_release(&d->missing);
    sm_buf_release(&d->retyped);
}

static void list_add(struct sm_buf *b, size_t *n, const char *name)
{
    (void)sm_buf_addf(b, "%s'%s'", (*n)++ ? ", " : "", name);
}

/* Describe d for a message: "new columns 'a', 'b'; no column 'c'". */
static void drift_text(const struct drift *d, struct sm_buf *b)
{
    if (d->nadded)
        (void)sm_buf_addf(b, "new column%s %s", d->nadded == 1 ? "" : "s", d->added.buf);
    if (d->nmissing)
        (void)sm_buf_addf(b, "%sno column%s %s", b->len ? "; " : "", d->nmissing == 1 ? "" : "s",
                          d->missing.buf);
    if (d->nretyped)
        (void)sm_buf_addf(b, "%s%s", b->len ? "; " : "", d->retyped.buf);
}

/*
 * Compare unit u's columns (found, types as the file has them, or "" when
 * unknown) with the contract and apply the source's schema_drift. The
 * contract is the declared columns, else bronze's (the table's, plus the
 * ones earlier units of this load brought). *out_drop: quarantine u.
 */
static int apply_drift(struct load *ld, struct unit *u, struct prj_column *found, size_t nfound,
                       bool *out_drop, struct sm_err *err)
{
    const struct prj_source *src = ld->src;
    const char *policy = sm_or(src->schema_drift, "evolve");
    struct drift d = {SM_BUF_INIT, SM_BUF_INIT, SM_BUF_INIT, 0, 0, 0};
    int rc = 0;
    *out_drop = false;
    /* The first unit of a source without columns and without a table sets them. */
    bool first = !ld->nout;
    for (size_t i = 0; i < nfound && !rc; i++) {
        struct prj_column *oc = find_column(ld->out, ld->nout, found[i].name);
        if (!oc) {
            if (!first)
                list_add(&d.added, &d.nadded, found[i].name);
            continue;
        }
        if (!typed_files(src) || !*found[i].type)
            continue;
        /* Types the files carry (JSON inferred, Parquet): a column of the
         * contract keeps its type; one new in this load widens. */
        if ((size_t)(oc - ld->out) >= ld->fixed) {
            bool up = false, down = false;
            rc = castable(ld, oc->type, storable(found[i].type), &up, err);
            if (!rc && !up)
                rc = castable(ld, found[i].type, oc->type, &down, err);
            if (!rc && up && strcasecmp(oc->type, storable(found[i].type))) {
                free(oc->type);
                oc->type = sm_strdup(storable(found[i].type));
            } else if (!rc && !up && !down) {
                free(oc->type);
                oc->type = sm_strdup("VARCHAR");
            }
            continue;
        }
        bool ok = false;
        rc = castable(ld, found[i].type, oc->type, &ok, err);
        if (!rc && !ok) {
            (void)sm_buf_addf(&d.retyped, "%scolumn '%s' changes type from %s to %s",
                              d.nretyped++ ? "; " : "", oc->name, oc->type, found[i].type);
        }
    }
    /* Declared columns a unit must have; without a declaration, bronze's. */
    const struct prj_column *need = src->ncolumns ? src->columns : ld->out;
    size_t nneed = src->ncolumns ? src->ncolumns : (first ? 0 : ld->nout);
    for (size_t i = 0; i < nneed && !rc; i++)
        if (!find_column(found, nfound, need[i].name))
            list_add(&d.missing, &d.nmissing, need[i].name);
    if (rc)
        goto out;
    if (!d.nadded && !d.nmissing && !d.nretyped) {
        for (size_t i = 0; first && i < nfound; i++)
            add_column(&ld->out, &ld->nout, &ld->outalloc, found[i].name,
                       storable(*found[i].type ? found[i].type : "VARCHAR"));
        goto out;
    }
    struct sm_buf what = SM_BUF_INIT;
    drift_text(&d, &what);
    if (!strcmp(policy, "quarantine")) {
        struct sm_buf why = SM_BUF_INIT;
        (void)sm_buf_addf(&why,
                          "schema drift: %s (against the columns %s); set aside by "
                          "'schema_drift: quarantine' in %s",
                          what.buf, src->ncolumns ? "declared" : "of bronze", src->file);
        bad_add(&ld->bad, &ld->nbad, &ld->badalloc, sm_strdup(u->source_file), u->file->batch_id,
                why.buf, "SCHEMA DRIFT");
        sm_buf_release(&why);
        ld->stats->files_drifted++;
        *out_drop = true;
    } else if (!strcmp(policy, "fail")) {
        rc = sm_err_set(err, SM_EINVALID,
                        "schema drift in '%s': %s; 'schema_drift: fail' in %s stops the load "
                        "(nothing was committed): declare the columns, or set schema_drift to "
                        "'evolve' (add new columns) or 'quarantine' (set such files aside)",
                        u->source_file, what.buf, src->file);
    } else if (d.nretyped) {
        rc = sm_err_set(err, SM_EINVALID,
                        "'%s': %s in bronze.%s; nothing was committed: declare the column's type "
                        "in %s, or set 'schema_drift: quarantine' to set such files aside",
                        u->source_file, d.retyped.buf, src->name, src->file);
    } else {
        /* evolve: new columns join bronze; missing ones are NULL */
        for (size_t i = 0; i < nfound; i++) {
            if (find_column(ld->out, ld->nout, found[i].name))
                continue;
            add_column(&ld->out, &ld->nout, &ld->outalloc, found[i].name,
                       storable(*found[i].type ? found[i].type : "VARCHAR"));
            ld->stats->columns_added++;
        }
        if (d.nadded)
            sm_info("'%s': %s; bronze.%s gets %s (schema_drift: evolve)", u->source_file, what.buf,
                    src->name, d.nadded == 1 ? "it" : "them");
    }
    sm_buf_release(&what);
out:
    drift_release(&d);
    return rc;
}

/* The contract before any unit is looked at: the declared columns, then
 * the other columns bronze has. A rebuild starts from the declared columns
 * alone (the files bring back the ones they have); without a declaration,
 * from bronze's, whose types it keeps. */
static void init_out(struct load *ld)
{
    const struct prj_source *src = ld->src;
    for (size_t i = 0; i < src->ncolumns; i++)
        add_column(&ld->out, &ld->nout, &ld->outalloc, src->columns[i].name, src->columns[i].type);
    bool extras = !ld->rebuild || !src->ncolumns;
    for (size_t i = 0; extras && ld->bsnap && i < ld->bsnap->ncolumns; i++) {
        const struct tbl_column *c = &ld->bsnap->columns[i];
        if (provenance_col(c->name) || find_column(ld->out, ld->nout, c->name))
            continue;
        add_column(&ld->out, &ld->nout, &ld->outalloc, c->name,
                   c->sql_type ? storable(c->sql_type) : "VARCHAR");
    }
    ld->fixed = ld->nout;
}

/* What unit u is read with, from its columns k (see struct unit): NULL
 * when the declared columns do (CSV with the declared header, JSON with
 * declared keys only); else, for CSV the header's names, for JSON the
 * declared columns and the unit's keys bronze has, each as bronze types
 * it; for Parquet the file's columns as the file types them. */
static void read_columns(struct load *ld, struct unit *u, const struct keys *k, bool header_ok)
{
    const struct prj_source *src = ld->src;
    size_t alloc = 0;
    if (csv_like(src)) {
        for (size_t c = 0; c < k->n && !header_ok; c++)
            add_column(&u->cols, &u->ncols, &alloc, k->c[c].name, "");
        return;
    }
    if (src->format == PRJ_FMT_PARQUET) {
        for (size_t c = 0; c < k->n; c++)
            add_column(&u->cols, &u->ncols, &alloc, k->c[c].name, k->c[c].type);
        return;
    }
    bool extra = !src->ncolumns;
    for (size_t c = 0; c < k->n && !extra; c++)
        extra = !find_column(src->columns, src->ncolumns, k->c[c].name);
    for (size_t c = 0; c < ld->nout && extra; c++)
        if (c < src->ncolumns || find_column(k->c, k->n, ld->out[c].name))
            add_column(&u->cols, &u->ncols, &alloc, ld->out[c].name, "");
}

/* Find each unit's columns, apply schema_drift, and settle what each unit
 * is read with (unit->cols) and the columns bronze gets (ld->out). */
static int settle_schema(struct load *ld, struct sm_err *err)
{
    const struct prj_source *src = ld->src;
    size_t nu = ld->nu, keep = 0;
    struct keys *found = sm_calloc(nu ? nu : 1, sizeof(*found));
    int rc = 0;
    init_out(ld);
    bool nd_declared = src->format == PRJ_FMT_NDJSON && src->ncolumns;
    for (size_t i = 0; i < nu && !rc; i++) {
        struct unit *u = &ld->u[i];
        struct keys *k = &found[i];
        bool known = false, drop = false, header_ok = false;
        struct sm_err e = SM_ERR_INIT;
        if (csv_like(src)) {
            /* a CSV's header names its columns; without one, position does */
            header_ok = !src->header || header_is_declared(ld, u);
            if (!header_ok && describe_unit(ld, u, false, &k->c, &k->n, &k->alloc, &e))
                drop = true;
            known = !header_ok;
        } else if (nd_declared) {
            ndjson_keys(u, k);
            known = k->any;
            type_new_keys(ld, u, k);
        } else {
            drop = describe_unit(ld, u, false, &k->c, &k->n, &k->alloc, &e) != 0;
            if (!drop && json_like(src))
                drop = describe_beyond_sample(ld, u, k, &e) != 0;
            known = !drop;
        }
        if (drop) { /* DuckDB cannot make it out at all: quarantined whole */
            if (e.code == SM_ECANCELLED) {
                rc = sm_err_set(err, e.code, "%s", e.msg);
                break;
            }
            bad_add(&ld->bad, &ld->nbad, &ld->badalloc, sm_strdup(u->source_file),
                    u->file->batch_id, e.msg, "UNREADABLE FILE");
        } else if (known) {
            rc = apply_drift(ld, u, k->c, k->n, &drop, err);
        }
        if (rc)
            break;
        if (drop) {
            unit_release(u);
            continue;
        }
        if (known)
            read_columns(ld, u, k, header_ok);
        if (keep != i) {
            ld->u[keep] = *u;
            memset(u, 0, sizeof(*u));
        }
        keep++;
    }
    if (!rc) {
        ld->nu = keep;
        /* Types are settled now: each unit reads a column as bronze has it
         * (Parquet: as the file has it, and is cast). */
        for (size_t i = 0; i < ld->nout; i++)
            if (!*ld->out[i].type) {
                free(ld->out[i].type);
                ld->out[i].type = sm_strdup("VARCHAR");
            }
        for (size_t i = 0; i < ld->nu && src->format != PRJ_FMT_PARQUET; i++) {
            struct unit *u = &ld->u[i];
            for (size_t c = 0; c < u->ncols; c++) {
                struct prj_column *oc = find_column(ld->out, ld->nout, u->cols[c].name);
                free(u->cols[c].type);
                u->cols[c].type = sm_strdup(oc ? oc->type : "VARCHAR");
            }
        }
    }
    for (size_t i = 0; i < nu; i++)
        free_columns(found[i].c, found[i].n);
    free(found);
    return rc;
}

/* --- step 3: write ----------------------------------------------------------------- */

/* One job: units written by one COPY on a connection of its own. */
struct job {
    struct unit **u;
    size_t n, alloc;
    int64_t weight;
    struct tbl_write *w;
    char *rej_path;           /* CSV: its rejected lines, or NULL */
    const char *sql[2];       /* the COPY of rows; (CSV) the COPY of rejected lines */
    struct eng_result *stats; /* the rows COPY's result: the file it wrote */
    int64_t nrej;             /* rejected lines written to rej_path */
    bool failed, recorded;
};

static void jobs_free(struct job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].w && !jobs[i].recorded && tbl_write_path(jobs[i].w))
            unlink(tbl_write_path(jobs[i].w));
        tbl_write_free(jobs[i].w);
        eng_result_free(jobs[i].stats);
        free(jobs[i].u);
        free(jobs[i].rej_path);
    }
    free(jobs);
}

static int64_t unit_weight(const struct unit *u)
{
    return u->have_lines ? u->lines.nlines + 1 : u->file->size / 64 + 1;
}

/* Share units out among as many jobs as threads, the heaviest job getting
 * the next unit last; each job's COPY and (CSV) the COPY of its rejects. */
static int make_jobs(struct load *ld, struct unit **units, size_t n, const char *bloc, int attempt,
                     struct job **out, size_t *out_n, struct sm_err *err)
{
    /* Parallel jobs pay off for big loads only; a small one stays one job
     * (and one data file). */
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += unit_weight(units[i]);
    size_t nj = (size_t)load_threads(ld->p);
    if ((int64_t)nj > 1 + total / JOB_MIN_WEIGHT)
        nj = (size_t)(1 + total / JOB_MIN_WEIGHT);
    if (nj > n)
        nj = n;
    struct job *jobs = sm_calloc(nj ? nj : 1, sizeof(*jobs));
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t k = 1; k < nj; k++)
            if (jobs[k].weight < jobs[best].weight)
                best = k;
        SM_ALLOC_GROW(jobs[best].u, jobs[best].n + 1, jobs[best].alloc);
        jobs[best].u[jobs[best].n++] = units[i];
        jobs[best].weight += unit_weight(units[i]);
    }
    int rc = 0;
    struct sm_buf q = SM_BUF_INIT;
    for (size_t k = 0; k < nj && !rc; k++) {
        struct job *j = &jobs[k];
        char rej[64];
        snprintf(rej, sizeof(rej), "_%d_%zu", attempt, k);
        sm_buf_reset(&q);
        for (size_t i = 0; i < j->n; i++) {
            if (i)
                (void)sm_buf_adds(&q, " UNION ALL ");
            add_unit_select(&q, ld, j->u[i], true, rej);
        }
        rc = tbl_write_prepare(ld->db, bloc, q.buf, &j->w, err);
        if (rc)
            break;
        j->sql[0] = tbl_write_sql(j->w);
        if (csv_like(ld->src)) {
            j->rej_path = sm_asprintf("%s/rejects-%d-%zu.parquet", ld->tmpdir, attempt, k);
            sm_buf_reset(&q);
            (void)sm_buf_addf(&q,
                              "COPY (SELECT s.file_path, CAST(e.line AS BIGINT) AS line, "
                              "e.column_name, CAST(e.error_type AS VARCHAR) AS error_type, "
                              "e.csv_line AS raw, e.error_message AS error FROM smelt_rejects%s e "
                              "JOIN smelt_reject_scans%s s USING (scan_id, file_id)) TO ",
                              rej, rej);
            (void)sm_buf_add_sql_str(&q, j->rej_path);
            (void)sm_buf_adds(&q, " (FORMAT parquet)");
            j->sql[1] = sm_buf_detach(&q); /* freed by jobs_sql_free() */
        }
    }
    sm_buf_release(&q);
    *out = jobs;
    *out_n = nj;
    return rc;
}

static void jobs_sql_free(struct job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)jobs[i].sql[1]);
        jobs[i].sql[1] = NULL;
    }
}

/* Read unit u alone, every value cast, and throw the result away. */
static int probe_unit(struct load *ld, struct unit *u, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_probe AS ");
    add_unit_select(&q, ld, u, false, "");
    (void)sm_buf_adds(&q, "; DROP TABLE smelt_probe");
    int rc = eng_exec(ld->db, q.buf, err);
    sm_buf_release(&q);
    return rc;
}

/* Can unit u, a JSON document, be read record by record? (It is an array
 * DuckDB can split, whatever the records hold.) */
static int probe_records(struct load *ld, const struct unit *u, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "SELECT count(*) FROM read_json_objects(");
    (void)sm_buf_add_sql_str(&q, u->read_path);
    (void)sm_buf_addf(&q, ", format='array'%s)", u->plain ? ", compression='uncompressed'" : "");
    int64_t n = 0;
    int rc = eng_query_i64(ld->db, q.buf, &n, err);
    sm_buf_release(&q);
    return rc;
}

/* A job failed: some unit of it cannot be read as a whole. Try each alone.
 * A CSV that only DuckDB's strict mode refuses (e.g. CRLF lines with a
 * last line ending in LF) is read with strict mode off; an NDJSON file
 * with a bad line is read line by line, a JSON document with a bad record
 * record by record; anything else is quarantined whole. */
static int split_unreadable(struct load *ld, struct job *j, struct sm_err *err)
{
    for (size_t i = 0; i < j->n; i++) {
        struct unit *u = j->u[i];
        struct sm_err e = SM_ERR_INIT;
        int rc = probe_unit(ld, u, &e);
        if (rc == SM_ECANCELLED)
            return sm_err_set(err, rc, "%s", e.msg);
        /* not the file's fault: stop rather than quarantine a good file */
        if (rc && strstr(e.msg, "Out of Memory Error"))
            return sm_err_set(err, SM_EENGINE,
                              "DuckDB ran out of memory reading '%s' under memory_limit %s: "
                              "raise defaults.memory_limit in smelt.yml (%.*s)",
                              u->source_file, ld->p->memory_limit, (int)strcspn(e.msg, "\n"),
                              e.msg);
        if (rc && csv_like(ld->src) && strstr(e.msg, "strict_mode=false")) {
            struct sm_err e2 = SM_ERR_INIT;
            u->relaxed = true;
            rc = probe_unit(ld, u, &e2);
            if (!rc)
                sm_warn("'%s' is not strict CSV (e.g. mixed line endings); read with DuckDB's "
                        "strict_mode off",
                        u->source_file);
        }
        if (rc && ld->src->format == PRJ_FMT_NDJSON) {
            u->by_line = true;
            rc = 0;
        }
        if (rc && ld->src->format == PRJ_FMT_JSON) {
            struct sm_err e2 = SM_ERR_INIT;
            rc = probe_records(ld, u, &e2);
            if (rc == SM_ECANCELLED)
                return sm_err_set(err, rc, "%s", e2.msg);
            u->by_line = !rc;
        }
        if (rc) {
            char *msg = named_as_source(u, e.msg);
            bad_add(&ld->bad, &ld->nbad, &ld->badalloc, sm_strdup(u->source_file),
                    u->file->batch_id, msg, "UNREADABLE FILE");
            free(msg);
            u->gone = true;
        }
    }
    return 0;
}

/* Run the jobs over units; a failed job's units are tried alone and the
 * readable ones written again (once). *out, *out_n: every job that ran. */
static int write_units(struct load *ld, const char *bloc, struct job **out, size_t *out_n,
                       struct sm_err *err)
{
    struct unit **todo = sm_calloc(ld->nu ? ld->nu : 1, sizeof(*todo));
    size_t ntodo = 0, nall = 0;
    struct job *all = NULL;
    int rc = 0;
    for (size_t i = 0; i < ld->nu; i++)
        if (!ld->u[i].by_line && !ld->u[i].gone)
            todo[ntodo++] = &ld->u[i];
    for (int attempt = 0; attempt < 2 && ntodo && !rc; attempt++) {
        struct job *jobs = NULL;
        size_t nj = 0;
        rc = make_jobs(ld, todo, ntodo, bloc, attempt, &jobs, &nj, err);
        struct eng_job *ej = sm_calloc(nj ? nj : 1, sizeof(*ej));
        for (size_t k = 0; k < nj && !rc; k++) {
            ej[k].sql = jobs[k].sql;
            ej[k].nsql = jobs[k].sql[1] ? 2 : 1;
        }
        /* Each job's scan runs on its own connection's thread (a streaming
         * row_number() keeps it on one): DuckDB's worker threads would only
         * contend with the other jobs for the cores. */
        char *threads = NULL;
        if (!rc && nj > 1 &&
            !eng_query_scalar(ld->db, "SELECT current_setting('threads')", &threads, NULL) &&
            eng_exec(ld->db, "SET threads = 1", NULL))
            sm_debug("cannot set DuckDB's threads to 1 for the jobs");
        double tj = sm_now();
        if (!rc)
            (void)eng_run_jobs(ld->db, ej, nj, (int)nj);
        sm_debug("bronze.%s: %zu jobs ran in %.3fs", ld->src->name, nj, sm_now() - tj);
        if (threads) {
            char *set = sm_asprintf("SET threads = %s", threads);
            if (eng_exec(ld->db, set, err))
                sm_warn("cannot set DuckDB's threads back to %s", threads);
            free(set);
            free(threads);
        }
        ntodo = 0;
        for (size_t k = 0; k < nj && !rc; k++) {
            struct job *j = &jobs[k];
            if (!ej[k].rc) {
                if (j->rej_path && ej[k].results[1] && eng_result_nrows(ej[k].results[1]))
                    (void)sm_parse_i64(sm_or(eng_result_str(ej[k].results[1], 0, 0), "0"),
                                       &j->nrej);
                /* recorded once every job ran (its lines fixed first if it had
                 * rejected lines) */
                j->stats = ej[k].results[0];
                ej[k].results[0] = NULL;
                continue;
            }
            j->failed = true;
            if (ej[k].rc == SM_ECANCELLED || attempt == 1) {
                rc = sm_err_set(err, ej[k].rc, "%s", ej[k].err.msg);
                break;
            }
            sm_debug("a job of bronze.%s failed, trying its files one by one: %s", ld->src->name,
                     ej[k].err.msg);
            rc = split_unreadable(ld, j, err);
            for (size_t i = 0; i < j->n && !rc; i++)
                if (!j->u[i]->by_line && !j->u[i]->gone)
                    todo[ntodo++] = j->u[i];
        }
        for (size_t k = 0; k < nj; k++)
            eng_job_release(&ej[k]);
        free(ej);
        jobs_sql_free(jobs, nj);
        all = sm_realloc(all, (nall + nj) * sizeof(*all));
        memcpy(all + nall, jobs, nj * sizeof(*jobs));
        nall += nj;
        free(jobs);
    }
    free(todo);
    *out = all;
    *out_n = nall;
    return rc;
}

/* Rejected lines are gaps in the numbering of their unit's rows. */
static int reject_gaps(struct load *ld, struct sm_err *err)
{
    struct sm_map by_path = SM_MAP_INIT;
    struct eng_result *r = NULL;
    for (size_t i = 0; i < ld->nu; i++)
        sm_map_put(&by_path, ld->u[i].read_path, &ld->u[i]);
    int rc = eng_query(ld->db, "SELECT file_path, line FROM smelt_rej GROUP BY ALL", &r, err);
    for (size_t i = 0; !rc && i < eng_result_nrows(r); i++) {
        const char *f = eng_result_str(r, 0, i), *v = eng_result_str(r, 1, i);
        struct unit *u = f ? sm_map_get(&by_path, f) : NULL;
        int64_t line;
        if (u && v && !sm_parse_i64(v, &line))
            gap_add(u, line);
    }
    eng_result_free(r);
    sm_map_release(&by_path);
    return rc;
}

/* Few big units that DuckDB can read on several threads each
 * (uncompressed) and more threads than units: a job would read each on one
 * thread, so staging them pays (stage_write). */
static bool stage_pays(const struct load *ld)
{
    size_t n = 0;
    int64_t w = 0;
    bool splittable = false;
    for (size_t i = 0; i < ld->nu; i++) {
        const struct unit *u = &ld->u[i];
        if (u->by_line || u->gone)
            continue;
        n++;
        w += unit_weight(u);
        splittable |= u->plain || ing_comp_of(u->read_path, NULL) == ING_COMP_NONE;
    }
    return n && n < (size_t)load_threads(ld->p) && splittable && w >= JOB_MIN_WEIGHT;
}

/* About how many bytes of text unit u holds. */
static int64_t unit_bytes(const struct unit *u)
{
    struct stat sb;
    if (u->in_memory ? fstat(u->mem_fd, &sb) : stat(u->read_path, &sb))
        return u->file->size;
    bool packed = !u->plain && ing_comp_of(u->read_path, NULL) != ING_COMP_NONE;
    return packed ? (int64_t)sb.st_size * 4 : (int64_t)sb.st_size;
}

/* Whether a value of type t comes back from a Parquet file as it went in
 * (a HUGEINT, say, would come back a DOUBLE). */
static bool parquet_round_trips(const char *t)
{
    static const char *const same[] = {
        "BOOLEAN", "BOOL", "TINYINT", "SMALLINT", "INTEGER",   "INT",     "INT4", "BIGINT", "INT8",
        "FLOAT",   "REAL", "DOUBLE",  "DATE",     "TIMESTAMP", "VARCHAR", "TEXT", "STRING", "BLOB",
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        if (!strcasecmp(t, same[i]))
            return true;
    return !strncasecmp(t, "DECIMAL(", 8) || !strncasecmp(t, "NUMERIC(", 8);
}

/* Where stage_write() keeps the rows: a temporary Parquet file when they
 * would take more than a quarter of DuckDB's memory as a temporary table,
 * which would spill to temp_directory uncompressed (a 5 GB CSV under a
 * 1 GB limit: 31 s that way, 18 s through Parquet, DuckDB's own COPY to
 * Parquet 12 s), else NULL. */
static char *stage_file(const struct load *ld)
{
    int64_t limit = ld->memory_limit, bytes = 0;
    for (size_t c = 0; c < ld->nout; c++)
        if (!parquet_round_trips(ld->out[c].type) ||
            !strcasecmp(ld->out[c].name, "file_row_number") ||
            !strcasecmp(ld->out[c].name, "smelt_u"))
            return NULL;
    for (size_t i = 0; i < ld->nu; i++)
        if (!ld->u[i].by_line && !ld->u[i].gone)
            bytes += unit_bytes(&ld->u[i]);
    return limit && bytes > limit / 4 ? sm_asprintf("%s/stage.parquet", ld->tmpdir) : NULL;
}

/* The load in two passes on the main connection, each on every thread:
 * the units' columns read in scan order, with the unit's number (smelt_u)
 * and nothing else, into a temporary table (rowid: the order) or, when
 * big, a temporary Parquet file (file_row_number), then written with their
 * provenance and lines, the rejected lines known by then. *out_done false
 * (and 0) when some unit cannot be read whole: the jobs take over, which
 * try the units one by one. */
static int stage_write(struct load *ld, const char *bloc, struct tbl_commit *bc, int64_t *rows,
                       bool *out_done, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT, from = SM_BUF_INIT;
    struct eng_result *r = NULL;
    struct sm_err e = SM_ERR_INIT;
    int64_t *first = sm_calloc(ld->nu ? ld->nu : 1, sizeof(*first));
    char *disk = stage_file(ld);
    const char *order = disk ? "file_row_number" : "rowid";
    *out_done = false;
    if (disk) {
        sm_debug("bronze.%s: staged in '%s'", ld->src->name, disk);
        (void)sm_buf_adds(&from, "read_parquet(");
        (void)sm_buf_add_sql_str(&from, disk);
        (void)sm_buf_adds(&from, ", file_row_number=true)");
        (void)sm_buf_adds(&q, "COPY (");
    } else {
        (void)sm_buf_adds(&from, "smelt_stage");
        (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_stage AS ");
    }
    size_t n = 0;
    for (size_t i = 0; i < ld->nu; i++) {
        struct unit *u = &ld->u[i];
        if (u->by_line || u->gone)
            continue;
        (void)sm_buf_adds(&q, n++ ? " UNION ALL SELECT " : "SELECT ");
        for (size_t c = 0; c < ld->nout; c++) {
            add_projection(&q, ld, u, &ld->out[c]);
            (void)sm_buf_adds(&q, ", ");
        }
        (void)sm_buf_addf(&q, "%zu AS smelt_u FROM ", i);
        add_reader(&q, ld, u, "_s");
    }
    if (disk) {
        (void)sm_buf_adds(&q, ") TO ");
        (void)sm_buf_add_sql_str(&q, disk);
        (void)sm_buf_adds(&q, " (FORMAT parquet)");
    }
    int rc = eng_exec(ld->db, q.buf, &e);
    if (rc) {
        sm_debug("bronze.%s: staging failed, the jobs take over: %s", ld->src->name, e.msg);
        rc = rc == SM_ECANCELLED ? sm_err_set(err, rc, "%s", e.msg) : 0;
        goto out;
    }
    sm_buf_reset(&q);
    if (csv_like(ld->src))
        (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_rej AS SELECT s.file_path, "
                              "CAST(e.line AS BIGINT) AS line, e.column_name, CAST(e.error_type AS "
                              "VARCHAR) AS error_type, e.csv_line AS raw, e.error_message AS error "
                              "FROM smelt_rejects_s e JOIN smelt_reject_scans_s s USING (scan_id, "
                              "file_id)");
    else
        (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_rej (file_path VARCHAR, line "
                              "BIGINT, column_name VARCHAR, error_type VARCHAR, raw VARCHAR, "
                              "error VARCHAR)");
    rc = eng_exec(ld->db, q.buf, err);
    ld->rej = !rc;
    if (!rc)
        rc = reject_gaps(ld, err);
    if (!rc) {
        sm_buf_reset(&q);
        (void)sm_buf_addf(&q, "SELECT smelt_u, min(%s) FROM %s GROUP BY 1", order, from.buf);
        rc = eng_query(ld->db, q.buf, &r, err);
    }
    for (size_t i = 0; !rc && i < eng_result_nrows(r); i++) {
        int64_t k = 0, v = 0;
        if (!sm_parse_i64(sm_or(eng_result_str(r, 0, i), ""), &k) &&
            !sm_parse_i64(sm_or(eng_result_str(r, 1, i), ""), &v) && k >= 0 && (size_t)k < ld->nu)
            first[k] = v;
    }
    /* provenance by unit number: a short CASE, as there are few units */
    static const char *const prov[] = {"_batch_id", "_source_file", "_ingested_at", "_source_line"};
    sm_buf_reset(&q);
    (void)sm_buf_addf(&q, "SELECT * EXCLUDE (smelt_u%s)", disk ? ", file_row_number" : "");
    for (size_t p = 0; p < sizeof(prov) / sizeof(prov[0]); p++) {
        (void)sm_buf_adds(&q, ", CASE smelt_u");
        for (size_t i = 0; i < ld->nu; i++) {
            struct unit *u = &ld->u[i];
            if (u->by_line || u->gone)
                continue;
            (void)sm_buf_addf(&q, " WHEN %zu THEN ", i);
            if (p == 0) {
                (void)sm_buf_add_sql_str(&q, u->file->batch_id);
            } else if (p == 1) {
                (void)sm_buf_add_sql_str(&q, u->source_file);
            } else if (p == 2) {
                add_ts(&q, ing_times_ingested(ld->times, u->file->batch_id));
            } else if (u->have_lines) {
                char *k = sm_asprintf("(%s - %lld + 1)", order, (long long)first[i]);
                add_line_expr(&q, ld, u, k);
                free(k);
            } else {
                (void)sm_buf_adds(&q, "CAST(NULL AS BIGINT)");
            }
        }
        (void)sm_buf_addf(&q, " END AS %s", prov[p]);
    }
    (void)sm_buf_addf(&q, " FROM %s", from.buf);
    if (!rc)
        rc = tbl_write_select(ld->db, bloc, q.buf, NULL, bc, rows, err);
    if (!rc && !disk && eng_exec(ld->db, "DROP TABLE smelt_stage", NULL))
        sm_debug("cannot drop the temporary table 'smelt_stage'");
    *out_done = !rc;
out:
    if (disk)
        unlink(disk);
    free(disk);
    eng_result_free(r);
    free(first);
    sm_buf_release(&q);
    sm_buf_release(&from);
    return rc;
}

/* smelt_rej(file_path, line, column_name, error_type, raw, error): every
 * rejected line of the jobs that were written. */
static int collect_rejects(struct load *ld, const struct job *jobs, size_t nj, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    size_t n = 0;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_rej AS SELECT * FROM read_parquet([");
    for (size_t k = 0; k < nj; k++) {
        if (jobs[k].failed || !jobs[k].nrej)
            continue;
        (void)sm_buf_adds(&q, n++ ? ", " : "");
        (void)sm_buf_add_sql_str(&q, jobs[k].rej_path);
    }
    (void)sm_buf_adds(&q, "])");
    if (!n) {
        sm_buf_reset(&q);
        (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_rej (file_path VARCHAR, line "
                              "BIGINT, column_name VARCHAR, error_type VARCHAR, raw VARCHAR, "
                              "error VARCHAR)");
    }
    int rc = eng_exec(ld->db, q.buf, err);
    sm_buf_release(&q);
    ld->rej = !rc;
    return rc;
}

/* Jobs whose units had rejected lines hold lines that are off by the
 * rejected lines before each row. Their files are rewritten, all in one
 * new file, with the right ones: a unit's k-th row is the k-th of its rows
 * in its job's file (a job writes each unit's rows in order), and its line
 * is what add_line_expr() says, now with the rejected lines among the
 * gaps. */
static int fix_lines(struct load *ld, struct job *jobs, size_t nj, const char *bloc,
                     struct tbl_commit *bc, int64_t *rows, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT, files = SM_BUF_INIT;
    size_t nfiles = 0;
    for (size_t k = 0; k < nj; k++) {
        if (jobs[k].failed || !jobs[k].nrej)
            continue;
        (void)sm_buf_adds(&files, nfiles++ ? ", " : "[");
        (void)sm_buf_add_sql_str(&files, tbl_write_path(jobs[k].w));
    }
    *rows = 0;
    if (!nfiles) {
        sm_buf_release(&files);
        return 0;
    }
    (void)sm_buf_adds(&files, "]");
    /* where each unit's rows start in its job's file */
    (void)sm_buf_addf(&q,
                      "CREATE OR REPLACE TEMP TABLE smelt_fix AS SELECT filename, _source_file AS "
                      "source_file, min(file_row_number) AS start FROM read_parquet(%s, "
                      "file_row_number=true, filename=true) GROUP BY ALL",
                      files.buf);
    int rc = eng_exec(ld->db, q.buf, err);
    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "SELECT * EXCLUDE (file_row_number, filename, smelt_k) REPLACE (CASE "
                          "_source_file");
    for (size_t k = 0; k < nj; k++) {
        for (size_t i = 0; !jobs[k].failed && jobs[k].nrej && i < jobs[k].n; i++) {
            struct unit *u = jobs[k].u[i];
            if (!u->have_lines)
                continue;
            (void)sm_buf_adds(&q, " WHEN ");
            (void)sm_buf_add_sql_str(&q, u->source_file);
            (void)sm_buf_adds(&q, " THEN ");
            add_line_expr(&q, ld, u, "smelt_k");
        }
    }
    (void)sm_buf_addf(&q,
                      " END AS _source_line) FROM (SELECT p.*, p.file_row_number - x.start + 1 AS "
                      "smelt_k FROM read_parquet(%s, file_row_number=true, filename=true) p JOIN "
                      "smelt_fix x ON p.filename = x.filename AND p._source_file = "
                      "x.source_file)",
                      files.buf);
    if (!rc)
        rc = tbl_write_select(ld->db, bloc, q.buf, NULL, bc, rows, err);
    for (size_t k = 0; !rc && k < nj; k++)
        if (!jobs[k].failed && jobs[k].nrej)
            unlink(tbl_write_path(jobs[k].w));
    sm_buf_release(&q);
    sm_buf_release(&files);
    return rc;
}

/* --- NDJSON read line by line ------------------------------------------------------ */

/* smelt_ndlines(l, filename, rn): the lines of the NDJSON units read by
 * line, one VARCHAR per line (no quoting, no separator DuckDB would find
 * in text), numbered in scan order; the line reader's own rejects (a line
 * over the size limit) join smelt_rej and are gaps (smelt_ndgaps). */
static int nd_stage(struct load *ld, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    size_t n = 0;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_ndlines AS ");
    bool records = ld->src->format == PRJ_FMT_JSON;
    for (size_t i = 0; i < ld->nu; i++) {
        struct unit *u = &ld->u[i];
        if (!u->by_line || u->gone)
            continue;
        (void)sm_buf_adds(&q, n++ ? " UNION ALL " : "");
        (void)sm_buf_adds(&q, records ? "SELECT CAST(json AS VARCHAR) AS l, " : "SELECT l, ");
        (void)sm_buf_add_sql_str(&q, u->read_path);
        if (records) {
            /* a JSON document: its records in order, the n-th as "line" n */
            (void)sm_buf_adds(&q, " AS filename, row_number() OVER () AS rn FROM "
                                  "read_json_objects(");
            (void)sm_buf_add_sql_str(&q, u->read_path);
            (void)sm_buf_addf(&q, ", format='array'%s)",
                              u->plain ? ", compression='uncompressed'" : "");
            continue;
        }
        (void)sm_buf_adds(&q, " AS filename, row_number() OVER () AS rn FROM read_csv(");
        (void)sm_buf_add_sql_str(&q, u->read_path);
        (void)sm_buf_addf(&q,
                          ", columns={'l': 'VARCHAR'}, header=false, auto_detect=false, "
                          "delim=chr(1), quote='', escape='', strict_mode=false, "
                          "max_line_size=67108864%s, store_rejects=true, "
                          "rejects_table='smelt_ndrejects', rejects_scan='smelt_ndreject_scans')",
                          u->plain ? ", compression='uncompressed'" : "");
    }
    int rc = 0;
    if (n) {
        rc = eng_exec(ld->db, q.buf, err);
        if (!rc && records)
            rc = eng_exec(ld->db,
                          "CREATE OR REPLACE TEMP TABLE smelt_ndgaps (file_path VARCHAR, "
                          "thr BIGINT)",
                          err);
        else if (!rc)
            rc = eng_exec(ld->db,
                          "INSERT INTO smelt_rej SELECT s.file_path, CAST(e.line AS BIGINT), "
                          "e.column_name, CAST(e.error_type AS VARCHAR), e.csv_line, "
                          "e.error_message FROM smelt_ndrejects e JOIN smelt_ndreject_scans s "
                          "USING (scan_id, file_id); CREATE OR REPLACE TEMP TABLE smelt_ndgaps AS "
                          "SELECT file_path, line - row_number() OVER (PARTITION BY file_path "
                          "ORDER BY line) AS thr FROM (SELECT DISTINCT s.file_path, "
                          "CAST(e.line AS BIGINT) AS line FROM smelt_ndrejects e JOIN "
                          "smelt_ndreject_scans s USING (scan_id, file_id))",
                          err);
        ld->by_line_staged = !rc;
    }
    sm_buf_release(&q);
    return rc;
}

/* '$."name"' for a top-level key. */
static void add_key_path(struct sm_buf *b, const char *name)
{
    char *path = sm_asprintf("$.\"%s\"", name);
    (void)sm_buf_add_sql_str(b, path);
    free(path);
}

/*
 * smelt_ndx: one row per non-blank line of the NDJSON units read by line,
 * with its provenance and line, whether it is valid JSON (ok) and an object
 * (obj), each bronze column's JSON value (j<i>), typed value (v<i>) and
 * whether that value failed its cast (bad<i>). Good rows and quarantined
 * lines are both selected from it.
 */
static int nd_type(struct load *ld, struct sm_err *err)
{
    const struct prj_column *cols = ld->out;
    size_t ncols = ld->nout;
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_ndv AS SELECT u.source_file, "
                          "u.batch_id, u.ingested_at, u.quarantined_at, s.rn + (SELECT count(*) "
                          "FROM smelt_ndgaps g WHERE g.file_path = s.filename AND g.thr < s.rn) "
                          "AS line, s.l AS raw, json_valid(s.l) AS ok FROM smelt_ndlines s JOIN "
                          "smelt_units u ON s.filename = u.filename WHERE s.l IS NOT NULL AND "
                          "trim(s.l, ' ' || chr(9) || chr(13)) <> ''; "
                          "CREATE OR REPLACE TEMP TABLE smelt_ndj AS SELECT *, ok AND "
                          "json_type(CASE WHEN ok THEN raw END) = 'OBJECT' AS obj");
    for (size_t i = 0; i < ncols; i++) {
        (void)sm_buf_addf(&q, ", CASE WHEN ok AND json_type(CASE WHEN ok THEN raw END) = "
                              "'OBJECT' THEN json_extract(raw, ");
        add_key_path(&q, cols[i].name);
        (void)sm_buf_addf(&q, ") END AS j%zu", i);
    }
    (void)sm_buf_adds(&q, " FROM smelt_ndv; CREATE OR REPLACE TEMP TABLE smelt_ndt AS SELECT *");
    for (size_t i = 0; i < ncols; i++) {
        if (is_nested(cols[i].type))
            (void)sm_buf_addf(&q, ", TRY_CAST(j%zu AS %s) AS v%zu", i, cols[i].type, i);
        else if (!strcasecmp(cols[i].type, "VARCHAR"))
            /* a nested value kept as its JSON text, a scalar as itself */
            (void)sm_buf_addf(&q,
                              ", CASE WHEN json_type(j%zu) IN ('OBJECT', 'ARRAY') THEN "
                              "CAST(j%zu AS VARCHAR) ELSE json_extract_string(j%zu, '$') END "
                              "AS v%zu",
                              i, i, i, i);
        else
            (void)sm_buf_addf(&q, ", TRY_CAST(json_extract_string(j%zu, '$') AS %s) AS v%zu", i,
                              cols[i].type, i);
    }
    (void)sm_buf_adds(&q, " FROM smelt_ndj; CREATE OR REPLACE TEMP TABLE smelt_ndx AS SELECT *");
    for (size_t i = 0; i < ncols; i++)
        (void)sm_buf_addf(&q,
                          ", (j%zu IS NOT NULL AND json_type(j%zu) <> 'NULL' AND v%zu IS NULL) "
                          "AS bad%zu",
                          i, i, i, i);
    (void)sm_buf_adds(&q, " FROM smelt_ndt");
    int rc = eng_exec(ld->db, q.buf, err);
    sm_buf_release(&q);
    return rc;
}

static void add_any_nd_bad(struct sm_buf *b, size_t ncols)
{
    (void)sm_buf_adds(b, "(false");
    for (size_t i = 0; i < ncols; i++)
        (void)sm_buf_addf(b, " OR bad%zu", i);
    (void)sm_buf_adds(b, ")");
}

static void nd_rows_select(struct sm_buf *b, const struct load *ld)
{
    (void)sm_buf_adds(b, "SELECT ");
    for (size_t i = 0; i < ld->nout; i++) {
        (void)sm_buf_addf(b, "v%zu AS ", i);
        (void)sm_buf_add_sql_ident(b, ld->out[i].name);
        (void)sm_buf_adds(b, ", ");
    }
    /* a JSON document's rows have no line (as when it is read whole); its
     * quarantined records keep their number in the array as theirs */
    (void)sm_buf_addf(b,
                      "batch_id AS _batch_id, source_file AS _source_file, ingested_at AS "
                      "_ingested_at, %s AS _source_line FROM smelt_ndx WHERE obj AND NOT ",
                      ld->src->format == PRJ_FMT_JSON ? "CAST(NULL AS BIGINT)" : "line");
    add_any_nd_bad(b, ld->nout);
}

static void nd_quarantine_select(struct sm_buf *b, const struct load *ld)
{
    const struct prj_column *cols = ld->out;
    size_t ncols = ld->nout;
    (void)sm_buf_adds(b, "SELECT source_file, line, CASE");
    for (size_t i = 0; i < ncols; i++) {
        (void)sm_buf_addf(b, " WHEN bad%zu THEN ", i);
        (void)sm_buf_add_sql_str(b, cols[i].name);
    }
    (void)sm_buf_adds(b, " END, CASE WHEN NOT ok THEN 'INVALID JSON' WHEN NOT obj THEN 'NOT AN "
                         "OBJECT' ELSE 'CAST' END, raw, CASE WHEN NOT ok THEN 'the line is not "
                         "valid JSON' WHEN NOT obj THEN 'the line is JSON but not an object: ' || "
                         "lower(json_type(CASE WHEN ok THEN raw END)) ELSE concat_ws('; '");
    for (size_t i = 0; i < ncols; i++) {
        struct sm_buf msg = SM_BUF_INIT;
        (void)sm_buf_addf(&msg, " to %s for column '%s'", cols[i].type, cols[i].name);
        (void)sm_buf_addf(b, ", CASE WHEN bad%zu THEN 'cannot cast ' || CAST(j%zu AS VARCHAR) || ",
                          i, i);
        (void)sm_buf_add_sql_str(b, msg.buf);
        (void)sm_buf_adds(b, " END");
        sm_buf_release(&msg);
    }
    (void)sm_buf_adds(b, ") END, batch_id, quarantined_at FROM smelt_ndx WHERE NOT obj OR ");
    add_any_nd_bad(b, ncols);
}

/* --- the tables -------------------------------------------------------------------- */

/* smelt_units: the provenance of each unit, by the path DuckDB read. */
static int units_table(struct load *ld, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_units (filename VARCHAR, "
                          "source_file VARCHAR, batch_id VARCHAR, ingested_at TIMESTAMP, "
                          "quarantined_at TIMESTAMP)");
    size_t n = 0;
    for (size_t i = 0; i < ld->nu; i++) {
        const struct unit *u = &ld->u[i];
        if (u->gone)
            continue;
        (void)sm_buf_adds(&q, n++ ? ", (" : "; INSERT INTO smelt_units VALUES (");
        (void)sm_buf_add_sql_str(&q, u->read_path);
        (void)sm_buf_adds(&q, ", ");
        (void)sm_buf_add_sql_str(&q, u->source_file);
        (void)sm_buf_adds(&q, ", ");
        (void)sm_buf_add_sql_str(&q, u->file->batch_id);
        (void)sm_buf_adds(&q, ", ");
        (void)sm_buf_add_sql_str(&q, ing_times_ingested(ld->times, u->file->batch_id));
        (void)sm_buf_adds(&q, ", ");
        (void)sm_buf_add_sql_str(&q, ing_times_quarantined(ld->times, u->file->batch_id));
        (void)sm_buf_adds(&q, ")");
    }
    int rc = eng_exec(ld->db, q.buf, err);
    sm_buf_release(&q);
    return rc;
}

/* Bronze's columns with no rows, so that a load of nothing readable still
 * leaves the table (with its schema). */
static void empty_select(struct sm_buf *b, const struct load *ld)
{
    (void)sm_buf_adds(b, "SELECT ");
    for (size_t i = 0; i < ld->nout; i++) {
        (void)sm_buf_addf(b, "CAST(NULL AS %s) AS ", ld->out[i].type);
        (void)sm_buf_add_sql_ident(b, ld->out[i].name);
        (void)sm_buf_adds(b, ", ");
    }
    (void)sm_buf_adds(b, "CAST(NULL AS VARCHAR) AS _batch_id, CAST(NULL AS VARCHAR) AS "
                         "_source_file, CAST(NULL AS TIMESTAMP) AS _ingested_at, CAST(NULL AS "
                         "BIGINT) AS _source_line WHERE false");
}

/* The quarantine table's columns, with no rows: the first part of every
 * quarantine SELECT. */
static void quarantine_head(struct sm_buf *b, const char *run)
{
    (void)sm_buf_adds(b, "SELECT CAST(NULL AS VARCHAR) AS _source_file, CAST(NULL AS BIGINT) AS "
                         "line, CAST(NULL AS VARCHAR) AS column_name, CAST(NULL AS VARCHAR) AS "
                         "error_type, CAST(NULL AS VARCHAR) AS raw, CAST(NULL AS VARCHAR) AS "
                         "error, CAST(NULL AS VARCHAR) AS _batch_id, ");
    add_ts(b, run);
    (void)sm_buf_adds(b, " AS _quarantined_at WHERE false");
}

static void add_bad_rows(struct sm_buf *b, const struct load *ld)
{
    for (size_t i = 0; i < ld->nbad; i++) {
        const struct bad *bad = &ld->bad[i];
        (void)sm_buf_adds(b, " UNION ALL SELECT ");
        (void)sm_buf_add_sql_str(b, bad->source_file);
        (void)sm_buf_adds(b, ", NULL, NULL, ");
        (void)sm_buf_add_sql_str(b, bad->error_type);
        (void)sm_buf_adds(b, ", NULL, ");
        (void)sm_buf_add_sql_str(b, bad->error);
        (void)sm_buf_adds(b, ", ");
        (void)sm_buf_add_sql_str(b, bad->batch_id);
        (void)sm_buf_adds(b, ", ");
        add_ts(b, ing_times_quarantined(ld->times, bad->batch_id));
    }
}

static void files_quarantine_select(struct sm_buf *b, const struct load *ld)
{
    quarantine_head(b, ld->times->run);
    if (ld->rej)
        (void)sm_buf_adds(b, " UNION ALL SELECT u.source_file, e.line, e.column_name, "
                             "e.error_type, e.raw, e.error, u.batch_id, u.quarantined_at FROM "
                             "smelt_rej e JOIN smelt_units u ON u.filename = e.file_path");
    if (ld->by_line_staged) {
        (void)sm_buf_adds(b, " UNION ALL ");
        nd_quarantine_select(b, ld);
    }
    add_bad_rows(b, ld);
}

/* Lines quarantined (not whole files): rejected lines counted once each. */
static int count_bad_lines(const struct load *ld, int64_t *out, struct sm_err *err)
{
    int64_t n = 0;
    *out = 0;
    if (ld->rej) {
        SM_TRY(eng_query_i64(
            ld->db, "SELECT count(*) FROM (SELECT DISTINCT file_path, line FROM smelt_rej)", &n,
            err));
        *out += n;
    }
    if (ld->by_line_staged) {
        struct sm_buf q = SM_BUF_INIT;
        (void)sm_buf_adds(&q, "SELECT count(*) FROM smelt_ndx WHERE NOT obj OR ");
        add_any_nd_bad(&q, ld->nout);
        int rc = eng_query_i64(ld->db, q.buf, &n, err);
        sm_buf_release(&q);
        SM_TRY(rc);
        *out += n;
    }
    return 0;
}

static void load_release(struct load *ld)
{
    static const char *const tmp[] = {
        "smelt_rej",           "smelt_units",        "smelt_ndlines",   "smelt_ndgaps",
        "smelt_ndv",           "smelt_ndj",          "smelt_ndt",       "smelt_ndx",
        "smelt_rejects",       "smelt_reject_scans", "smelt_ndrejects", "smelt_ndreject_scans",
        "smelt_probe",         "smelt_fix",          "smelt_stage",     "smelt_rejects_s",
        "smelt_reject_scans_s"};
    for (size_t i = 0; i < sizeof(tmp) / sizeof(tmp[0]); i++) {
        char *q = sm_asprintf("DROP TABLE IF EXISTS %s", tmp[i]);
        if (eng_exec(ld->db, q, NULL))
            sm_debug("cannot drop the temporary table '%s'", tmp[i]);
        free(q);
    }
    for (size_t i = 0; i < ld->nu; i++)
        unit_release(&ld->u[i]);
    free(ld->u);
    for (size_t i = 0; i < ld->nbad; i++) {
        free(ld->bad[i].source_file);
        free(ld->bad[i].error);
    }
    free(ld->bad);
    free_columns(ld->out, ld->nout);
    sm_map_release(&ld->castable);
    if (ld->tmpdir && sm_rmtree(ld->tmpdir, NULL))
        sm_warn("cannot remove the temporary folder '%s'", ld->tmpdir);
    free(ld->tmpdir);
}

/* Rows the units should give, for the progress bar: lines less header and
 * blank lines (a CSV value over several lines makes it a little high). */
static void progress_total(struct load *ld)
{
    struct ing_progress *pg = ld->stats->progress;
    if (!pg)
        return;
    int64_t total = 0;
    for (size_t i = 0; i < ld->nu; i++) {
        const struct unit *u = &ld->u[i];
        if (u->have_lines)
            total += u->lines.nlines - header_lines(ld->src) - (int64_t)u->lines.nblank;
    }
    atomic_store(&pg->unit, ING_PROGRESS_ROWS);
    atomic_store(&pg->total, total > 0 ? total : 0);
}

/* Files: prepared, checked against the contract, written by jobs; the
 * quarantine SELECT is left in quarantine. */
static int files_write(struct load *ld, const struct st_landed *files, size_t nfiles,
                       bool write_bronze, const char *bloc, struct tbl_commit *bc,
                       struct sm_buf *quarantine, struct sm_err *err)
{
    struct job *jobs = NULL;
    size_t nj = 0;
    struct sm_buf q = SM_BUF_INIT;
    int64_t rows = 0, nlines = 0;
    ld->tmpdir = sm_asprintf("%s/ingest-%s", ld->p->temp_directory, ld->src->name);
    int rc = sm_rmtree(ld->tmpdir, err);
    if (!rc)
        rc = sm_mkdirs(ld->tmpdir, err);
    ld->memory_limit = eng_memory_limit(ld->db);
    double t0 = sm_now();
    if (!rc)
        rc = prepare_all(ld, files, nfiles, err);
    sm_debug("bronze.%s: %zu files checked and unpacked in %.3fs", ld->src->name, nfiles,
             sm_now() - t0);
    if (rc || !write_bronze)
        goto out;
    t0 = sm_now();
    if ((rc = settle_schema(ld, err)))
        goto out;
    sm_debug("bronze.%s: schema of %zu units in %.3fs", ld->src->name, ld->nu, sm_now() - t0);
    progress_total(ld);
    for (size_t i = 0; i < ld->nu; i++)
        add_blank_gaps(ld, &ld->u[i]);
    t0 = sm_now();
    bool staged = false;
    if (stage_pays(ld)) {
        rc = stage_write(ld, bloc, bc, &rows, &staged, err);
        sm_debug("bronze.%s: %s in %.3fs", ld->src->name,
                 staged ? "staged and written" : "staging failed", sm_now() - t0);
    }
    if (!rc && !staged) {
        rc = write_units(ld, bloc, &jobs, &nj, err);
        sm_debug("bronze.%s: %zu jobs written in %.3fs", ld->src->name, nj, sm_now() - t0);
        if (!rc)
            rc = collect_rejects(ld, jobs, nj, err);
    }
    if (!rc)
        rc = units_table(ld, err);
    if (!rc)
        rc = nd_stage(ld, err);
    if (!rc && ld->by_line_staged)
        rc = nd_type(ld, err);
    if (!rc && ld->by_line_staged) {
        nd_rows_select(&q, ld);
        int64_t n = 0;
        rc = tbl_write_select(ld->db, bloc, q.buf, NULL, bc, &n, err);
        rows += n;
    }
    if (!rc && !staged)
        rc = reject_gaps(ld, err);
    t0 = sm_now();
    for (size_t k = 0; k < nj && !rc; k++) {
        struct job *j = &jobs[k];
        int64_t n = 0;
        if (j->failed || j->nrej)
            continue;
        rc = tbl_write_record(j->w, bc, j->stats, &n, err);
        j->recorded = !rc;
        rows += n;
    }
    if (!rc) {
        int64_t n = 0;
        rc = fix_lines(ld, jobs, nj, bloc, bc, &n, err);
        rows += n;
    }
    sm_debug("bronze.%s: files recorded (rejected lines fixed) in %.3fs", ld->src->name,
             sm_now() - t0);
    if (!rc && !tbl_commit_files_added(bc)) {
        /* nothing readable (or no rows): the table still gets its schema */
        sm_buf_reset(&q);
        empty_select(&q, ld);
        rc = tbl_write_select(ld->db, bloc, q.buf, NULL, bc, NULL, err);
    }
    if (!rc)
        rc = count_bad_lines(ld, &nlines, err);
    if (!rc) {
        ld->stats->rows_out = rows;
        ld->stats->rows_quarantined += nlines;
        ld->stats->rows_in = rows + ld->stats->rows_quarantined;
    }
out:
    if (!rc)
        files_quarantine_select(quarantine, ld);
    jobs_free(jobs, nj);
    sm_buf_release(&q);
    return rc;
}

/* --- times of a rebuild ----------------------------------------------------------- */

const char *ing_times_ingested(const struct ing_times *t, const char *batch_id)
{
    const char *v = batch_id ? sm_map_get(&t->ingested, batch_id) : NULL;
    return v ? v : t->run;
}

const char *ing_times_quarantined(const struct ing_times *t, const char *batch_id)
{
    const char *v = batch_id ? sm_map_get(&t->quarantined, batch_id) : NULL;
    return v ? v : t->run;
}

static void times_map_release(struct sm_map *m)
{
    for (size_t i = 0; i < m->nslots; i++)
        if (m->slots[i].key && !m->slots[i].deleted)
            free(m->slots[i].value);
    sm_map_release(m);
}

/* The time column col the table s gave each batch (min over its rows). */
static int prev_times(struct eng_db *db, const struct tbl_snapshot *s, const char *col,
                      struct sm_map *out, struct sm_err *err)
{
    bool has_col = false, has_batch = false;
    for (size_t i = 0; s && i < s->ncolumns; i++) {
        has_col |= !strcmp(s->columns[i].name, col);
        has_batch |= !strcmp(s->columns[i].name, "_batch_id");
    }
    if (!has_col || !has_batch)
        return 0;
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_addf(&q, "SELECT _batch_id, CAST(min(%s) AS VARCHAR) FROM (", col);
    tbl_snapshot_view_sql(s, &q);
    (void)sm_buf_adds(&q, ") WHERE _batch_id IS NOT NULL GROUP BY 1");
    struct eng_result *r = NULL;
    int rc = eng_query(db, q.buf, &r, err);
    for (size_t i = 0; !rc && i < eng_result_nrows(r); i++)
        if (eng_result_str(r, 1, i))
            sm_map_put(out, eng_result_str(r, 0, i), sm_strdup(eng_result_str(r, 1, i)));
    eng_result_free(r);
    sm_buf_release(&q);
    return rc;
}

/* --- bronze: loading --------------------------------------------------------------- */

static int open_snapshot(const char *loc, struct tbl_snapshot **out, struct sm_err *err)
{
    *out = NULL;
    if (tbl_latest_version(loc) < 0)
        return 0;
    return tbl_snapshot_open(loc, -1, out, err);
}

/* A commit to a table of the source (snapshot s, or NULL): a rebuild
 * replaces every file of it. */
static struct tbl_commit *load_commit_new(const struct load *ld, const struct tbl_snapshot *s)
{
    struct tbl_commit *c = tbl_commit_new("WRITE");
    if (ld->rebuild) {
        tbl_commit_remove_all(c, s);
        tbl_commit_set_info(c, "smelt.rebuild", "from the landing zone");
    }
    return c;
}

/* REST pages: each readable page's records are staged by rest.c; a page
 * that is not JSON is quarantined whole. *bc is replaced when the pages
 * are staged a second time. */
static int rest_write(struct load *ld, struct st_landed *files, size_t nfiles, bool write_bronze,
                      const char *bloc, struct tbl_commit **bc, struct sm_buf *quarantine,
                      bool *staged, struct sm_err *err)
{
    const struct st_landed **good = sm_calloc(nfiles ? nfiles : 1, sizeof(*good));
    size_t ngood = 0;
    int rc = 0;
    struct ing_stats *out = ld->stats;
    for (size_t i = 0; i < nfiles; i++) {
        struct sm_err e = SM_ERR_INIT;
        if (files[i].size == 0)
            continue;
        if (ing_rest_check_page(ld->db, &files[i], &e)) {
            bad_add(&ld->bad, &ld->nbad, &ld->badalloc,
                    sm_strdup(files[i].landing_path + ld->skip - 1), files[i].batch_id, e.msg,
                    "UNREADABLE FILE");
            continue;
        }
        good[ngood++] = &files[i];
    }
    if (write_bronze) {
        bool lazy = false;
        rc = ing_rest_stage(ld->db, ld->p, ld->src, ld->bsnap, good, ngood, ld->times, false,
                            &out->rows_quarantined, &lazy, err);
        *staged = !rc;
        while (!rc) {
            struct sm_err e = SM_ERR_INIT;
            struct sm_buf q = SM_BUF_INIT;
            ing_rest_select(&q, ld->src, "rows");
            rc = tbl_write_select(ld->db, bloc, q.buf, NULL, *bc, NULL, &e);
            sm_buf_release(&q);
            if (!rc || !lazy || rc == SM_ECANCELLED) {
                if (rc)
                    sm_err_set(err, rc, "%s", e.msg);
                break;
            }
            /* A page beyond DuckDB's sample does not fit the types it
             * inferred: read every record instead. */
            sm_debug("bronze.%s: %s; reading the pages record by record", ld->src->name, e.msg);
            ing_rest_unstage(ld->db, ld->src);
            tbl_commit_free(*bc);
            *bc = load_commit_new(ld, ld->bsnap);
            out->rows_quarantined = 0;
            rc = ing_rest_stage(ld->db, ld->p, ld->src, ld->bsnap, good, ngood, ld->times, true,
                                &out->rows_quarantined, &lazy, err);
            *staged = !rc;
        }
        if (!rc) {
            out->rows_out = tbl_commit_rows_added(*bc);
            out->rows_in = out->rows_out + out->rows_quarantined;
        }
    }
    quarantine_head(quarantine, ld->times->run);
    add_bad_rows(quarantine, ld);
    if (*staged) {
        (void)sm_buf_adds(quarantine, " UNION ALL ");
        ing_rest_select(quarantine, ld->src, "rejects");
    }
    free(good);
    return rc;
}

int ing_load_bronze(struct eng_db *db, struct st_db *st, const struct prj_project *p,
                    const struct prj_source *src, const char *ingested_at,
                    const struct ing_load_options *opt, struct ing_stats *out, struct sm_err *err)
{
    bool rebuild = opt && opt->rebuild;
    char *bloc = ing_bronze_location(p, src->name), *qloc = ing_quarantine_location(p, src->name);
    char *app = sm_asprintf("smelt:bronze.%s", src->name);
    struct tbl_snapshot *bsnap = NULL, *qsnap = NULL;
    struct st_landed *files = NULL;
    size_t nfiles = 0;
    struct tbl_commit *bc = NULL, *qc = NULL;
    struct sm_buf q = SM_BUF_INIT;
    struct ing_times times = {
        .run = ingested_at, .ingested = SM_MAP_INIT, .quarantined = SM_MAP_INIT};
    struct load ld = {.db = db,
                      .p = p,
                      .src = src,
                      .times = &times,
                      .stats = out,
                      .skip = strlen(p->lake) + 2,
                      .castable = SM_MAP_INIT,
                      .rebuild = rebuild};
    bool rest = !strcmp(src->kind, "rest"), rest_staged = false;
    int rc = open_snapshot(bloc, &bsnap, err);
    if (!rc)
        rc = open_snapshot(qloc, &qsnap, err);
    if (rc)
        goto out;
    ld.bsnap = bsnap;
    int64_t bdone = tbl_snapshot_txn(bsnap, app), qdone = tbl_snapshot_txn(qsnap, app);
    int64_t after = rebuild ? 0 : bdone < qdone ? bdone : qdone;
    rc = st_landed_list(st, src->name, after, &files, &nfiles, err);
    if (rc || (!nfiles && !rebuild))
        goto out;
    /* A crash between the quarantine and the bronze commit left quarantine
     * ahead: finish exactly that batch first, so its rejects are not
     * quarantined twice; newer files wait for the next run. */
    if (qdone > bdone && !rebuild) {
        while (nfiles > 0 && files[nfiles - 1].id > qdone) {
            st_landed_release(&files[nfiles - 1]);
            nfiles--;
        }
    }
    if (!nfiles && !rebuild)
        goto out;
    int64_t maxid = nfiles ? files[nfiles - 1].id : -1;
    out->files_loaded = (int64_t)nfiles;
    bool write_bronze = rebuild || bdone < maxid;
    if (rebuild) {
        /* every batch keeps the times the tables gave it */
        rc = prev_times(db, bsnap, "_ingested_at", &times.ingested, err);
        if (!rc)
            rc = prev_times(db, qsnap, "_quarantined_at", &times.quarantined, err);
        if (rc)
            goto out;
    }
    /* the pages' data files, written while they landed (overlap.c) */
    struct tbl_commit *early = NULL;
    if (write_bronze && !rebuild && opt)
        early = ing_overlap_take(opt->overlap, bsnap, files, nfiles);
    if (write_bronze)
        bc = early ? early : load_commit_new(&ld, bsnap);
    if (early) {
        /* every page fitted the fast path: nothing to quarantine */
        out->rows_out = out->rows_in = tbl_commit_rows_added(bc);
        quarantine_head(&q, ld.times->run);
    } else if (rest) {
        rc = rest_write(&ld, files, nfiles, write_bronze, bloc, &bc, &q, &rest_staged, err);
    } else {
        rc = files_write(&ld, files, nfiles, write_bronze, bloc, bc, &q, err);
    }
    if (rc)
        goto out;
    out->files_quarantined = 0;
    for (size_t i = 0; i < ld.nbad; i++)
        if (!strcmp(ld.bad[i].error_type, "UNREADABLE FILE"))
            out->files_quarantined++;
    out->rows_quarantined += (int64_t)ld.nbad;

    if (rebuild || qdone < maxid) {
        qc = load_commit_new(&ld, qsnap);
        rc = tbl_write_select(db, qloc, q.buf, NULL, qc, NULL, err);
        if (maxid >= 0)
            tbl_commit_set_txn(qc, app, maxid);
        if (!rc)
            rc = tbl_commit_write(qc, qloc, qsnap ? qsnap->version : -1, qsnap, NULL, err);
        if (rc)
            goto out;
    }
    if (bc) {
        if (maxid >= 0)
            tbl_commit_set_txn(bc, app, maxid);
        rc = tbl_commit_write(bc, bloc, bsnap ? bsnap->version : -1, bsnap, NULL, err);
        if (!rc)
            out->committed = true;
    }
out:
    if (opt)
        ing_overlap_end(opt->overlap); /* db is the caller's again */
    if (rest_staged)
        ing_rest_unstage(db, src);
    load_release(&ld);
    times_map_release(&times.ingested);
    times_map_release(&times.quarantined);
    st_landed_free_array(files, nfiles);
    tbl_commit_free(bc);
    tbl_commit_free(qc);
    tbl_snapshot_free(bsnap);
    tbl_snapshot_free(qsnap);
    sm_buf_release(&q);
    free(app);
    free(bloc);
    free(qloc);
    return rc;
}
