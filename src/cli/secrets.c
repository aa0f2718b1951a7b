/*
 * secrets.c — `smelt secrets set|get|list|rm|rotate|rekey`: the encrypted
 * secret store of a project, the way AWS Secrets Manager users know it:
 * `set` creates a secret, `rotate` gives it a new value and records when,
 * `rekey` re-encrypts every value under a new master key.
 *
 * This file is the glue between secrets/ (master key, crypto, reading a
 * value) and state/ (the secrets table in .smelt/state.db), which do not
 * know each other. Invariants:
 *   - a value never comes from argv (it would show in the process list and
 *     the shell history) and is never printed except by `get`, on stdout;
 *   - nothing is stored under a master key that does not also decrypt the
 *     secrets already stored, so one state.db never mixes two keys;
 *   - a rekey is all or nothing (one transaction), and an interrupted one is
 *     finished or undone by the next command that needs the key
 *     (finish_rekey).
 */
#include "secrets/secrets.h"
#include "cli.h"
#include "state/state.h"

#include <sys/stat.h>

#define NEW_KEY_ENV "SMELT_NEW_MASTER_KEY"
#define PENDING_KEY_FILE SEC_KEY_FILE ".new"

struct store {
    char *state_dir; /* <project>/.smelt */
    char *key_path;  /* <project>/.smelt/master.key */
    char *pending_path;
    struct st_db *st;
};

static void store_close(struct store *s)
{
    st_close(s->st);
    free(s->state_dir);
    free(s->key_path);
    free(s->pending_path);
    memset(s, 0, sizeof(*s));
}

/* The project's state.db, created if needed. Secrets need no more of the
 * project than its smelt.yml, so a project whose models do not load yet
 * can still get its secrets. */
static int store_open(const char *dir, struct store *out, struct sm_err *err)
{
    memset(out, 0, sizeof(*out));
    char *yml = sm_path_join(dir, "smelt.yml");
    bool ok = sm_path_exists(yml);
    free(yml);
    if (!ok)
        return sm_err_set(err, SM_ENOTFOUND,
                          "no smelt.yml in '%s': run 'smelt init NAME' to create a project, or "
                          "pass -C DIR",
                          dir);
    /* "./.smelt" reads oddly in messages. */
    out->state_dir = strcmp(dir, ".") ? sm_path_join(dir, ".smelt") : sm_strdup(".smelt");
    out->key_path = sm_path_join(out->state_dir, SEC_KEY_FILE);
    out->pending_path = sm_path_join(out->state_dir, PENDING_KEY_FILE);
    char *db = sm_path_join(out->state_dir, "state.db");
    int rc = sm_mkdirs(out->state_dir, err);
    if (!rc)
        rc = st_open(db, &out->st, err);
    free(db);
    if (rc)
        store_close(out);
    return rc;
}

/* Decrypt the stored secret sec with key; the value is wiped at once when
 * out_value is NULL (a check that the key is the right one). */
static int open_secret(const struct sec_key *key, const struct st_secret *sec, char **out_value,
                       struct sm_err *err)
{
    char *v = NULL;
    SM_TRY(sec_decrypt(key, sec->name, sec->nonce, sec->nonce_len, sec->ciphertext,
                       sec->ciphertext_len, &v, err));
    if (out_value)
        *out_value = v;
    else
        sec_value_free(v);
    return 0;
}

/*
 * A rekey writes the new key to master.key.new (synced), commits the
 * re-encrypted values, then renames the file over master.key. If it stopped
 * after the commit, the values need the new key: finish the rename. If it
 * stopped before, the new key encrypts nothing: remove it. Which one is
 * told by trying the new key on a stored secret. A key file is only ever
 * removed when it is known not to be needed: a half-written one (the
 * commit comes after the sync), or one that opens nothing.
 */
static int finish_rekey(struct store *s, struct sm_err *err)
{
    struct sm_err e = SM_ERR_INIT;
    struct sec_key nk = {0};
    struct st_secret *arr = NULL;
    struct stat st;
    size_t n = 0;
    int rc;

    const char *env = getenv(SEC_KEY_ENV);
    if ((env && *env) || stat(s->pending_path, &st))
        return 0;
    /* Loose permissions are the user's to fix, not a sign of a torn write. */
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return sm_err_set(err, SM_ECONFIG,
                          "'%s', left by an interrupted 'smelt secrets rekey', may be accessed "
                          "by group or others: run 'chmod 600 %s'",
                          s->pending_path, s->pending_path);
    rc = sec_key_read_file(s->pending_path, &nk, &e);
    bool torn = rc == SM_ECONFIG; /* not a key: the write never finished */
    if (rc && !torn) {
        sm_err_set(err, rc, "%s", e.msg);
        goto out;
    }
    if (!torn && (rc = st_secret_list(s->st, &arr, &n, err)))
        goto out;
    if (torn || !n || open_secret(&nk, &arr[0], NULL, NULL)) {
        rc = 0;
        if (unlink(s->pending_path) && errno != ENOENT)
            rc =
                sm_err_set(err, SM_EIO, "cannot remove '%s': %s", s->pending_path, strerror(errno));
    } else if (!(rc = sec_key_file_rename(s->pending_path, s->key_path, err))) {
        sm_info("finished an interrupted rekey: '%s' now holds the new master key", s->key_path);
    }
out:
    st_secret_free_array(arr, n);
    sec_key_release(&nk);
    return rc;
}

/* The key to read secrets with. */
static int key_for_read(struct store *s, struct sec_key *out, struct sm_err *err)
{
    SM_TRY(finish_rekey(s, err));
    return sec_key_load(s->state_dir, false, out, err);
}

/*
 * The key to store a value of `name` with: the project's key, created on
 * first use -- but only when state.db holds no secret yet, since secrets
 * stored under a lost key would otherwise sit beside ones under a new key.
 * An existing key must decrypt `check` (the secret about to be rotated) or
 * else some stored secret.
 */
static int key_for_write(struct store *s, const char *name, const struct st_secret *check,
                         struct sec_key *out, struct sm_err *err)
{
    struct sm_err e = SM_ERR_INIT;
    struct st_secret *arr = NULL;
    size_t n = 0;
    int rc;

    SM_TRY(finish_rekey(s, err));
    SM_TRY(st_secret_list(s->st, &arr, &n, err));
    rc = sec_key_load(s->state_dir, false, out, &e);
    if (rc == SM_ENOTFOUND && n) {
        rc = sm_err_set(err, SM_ECONFIG,
                        "cannot store secret '%s': state.db holds %zu secret%s but there is no "
                        "master key (%s is not set and '%s' does not exist); restore the key "
                        "they were stored under, or remove them with 'smelt secrets rm NAME'",
                        name, n, n == 1 ? "" : "s", SEC_KEY_ENV, s->key_path);
    } else if (rc == SM_ENOTFOUND) {
        rc = sec_key_load(s->state_dir, true, out, err);
        if (!rc && out->origin == SEC_KEY_CREATED)
            sm_info("created master key '%s' (mode 0600): back it up; without it the secrets "
                    "of this project cannot be read",
                    s->key_path);
    } else if (rc) {
        sm_err_set(err, e.code, "%s", e.msg);
    } else if ((check || n) && (rc = open_secret(out, check ? check : &arr[0], NULL, err))) {
        sm_err_prefix(err, rc,
                      "refusing to store secret '%s' under a master key that does not "
                      "open the secrets already stored",
                      name);
    }
    if (rc)
        sec_key_release(out);
    st_secret_free_array(arr, n);
    return rc;
}

/* Write all of s to fd, bypassing stdio so no copy stays in its buffer. */
static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* --- subcommands ------------------------------------------------------------- */

struct args {
    const char *name;    /* NAME, when the subcommand takes one */
    enum cli_format fmt; /* list only */
};

/* Read a value for `name` and store it under the project's key: the body
 * of set (check NULL) and rotate (check: the secret being rotated, which
 * the key must open). */
static int put_value(struct store *s, const char *name, enum st_secret_put_mode mode,
                     const struct st_secret *check, struct sm_err *err)
{
    struct sec_key key = {0};
    unsigned char nonce[SEC_NONCE_BYTES];
    struct st_secret sec = {.name = (char *)name, .nonce = nonce, .nonce_len = sizeof(nonce)};
    char *value = NULL;
    int rc;

    if (!(rc = key_for_write(s, name, check, &key, err)) &&
        !(rc = sec_value_read(STDIN_FILENO, name, &value, err)) &&
        !(rc = sec_encrypt(&key, name, value, nonce, &sec.ciphertext, &sec.ciphertext_len, err)))
        rc = st_secret_put(s->st, &sec, mode, err);
    free(sec.ciphertext);
    sec_value_free(value);
    sec_key_release(&key);
    return rc;
}

static int do_set(struct store *s, const struct args *a, struct sm_err *err)
{
    struct st_secret old;
    bool found = false;

    /* Checked before the prompt, so nobody types a value to be refused;
     * st_secret_put() still refuses a name created meanwhile. */
    SM_TRY(st_secret_get(s->st, a->name, &old, &found, err));
    st_secret_release(&old);
    if (found)
        return sm_err_set(err, SM_ECONFLICT,
                          "secret '%s' already exists: use 'smelt secrets rotate %s' to give it "
                          "a new value",
                          a->name, a->name);
    SM_TRY(put_value(s, a->name, ST_SECRET_CREATE, NULL, err));
    printf("stored secret '%s'\n", a->name);
    return 0;
}

static int do_rotate(struct store *s, const struct args *a, struct sm_err *err)
{
    struct st_secret old;
    bool found = false;
    int rc;

    SM_TRY(st_secret_get(s->st, a->name, &old, &found, err));
    if (!found)
        return sm_err_set(err, SM_ENOTFOUND,
                          "no secret '%s' to rotate: use 'smelt secrets set %s' to create it",
                          a->name, a->name);
    rc = put_value(s, a->name, ST_SECRET_ROTATE, &old, err);
    st_secret_release(&old);
    if (!rc)
        printf("rotated secret '%s'\n", a->name);
    return rc;
}

static int do_get(struct store *s, const struct args *a, struct sm_err *err)
{
    struct sec_key key = {0};
    struct st_secret sec = {0};
    char *value = NULL;
    bool found = false;
    int rc;

    if ((rc = st_secret_get(s->st, a->name, &sec, &found, err)))
        return rc;
    if (!found)
        rc = sm_err_set(err, SM_ENOTFOUND,
                        "no secret '%s': 'smelt secrets list' shows the names there are", a->name);
    else if (!(rc = key_for_read(s, &key, err)) && !(rc = open_secret(&key, &sec, &value, err))) {
        fflush(stdout);
        if (write_all(STDOUT_FILENO, value, strlen(value)) || write_all(STDOUT_FILENO, "\n", 1))
            rc = sm_err_set(err, SM_EIO, "cannot write to stdout: %s", strerror(errno));
    }
    sec_value_free(value);
    st_secret_release(&sec);
    sec_key_release(&key);
    return rc;
}

static int do_rm(struct store *s, const struct args *a, struct sm_err *err)
{
    SM_TRY(st_secret_rm(s->st, a->name, err));
    printf("removed secret '%s'\n", a->name);
    return 0;
}

static void print_list(const struct st_secret *arr, size_t n, enum cli_format fmt)
{
    static const char *const cols[] = {"name", "created_at", "rotated_at"};
    struct sm_buf b = SM_BUF_INIT;
    switch (cli_resolve_format(fmt)) {
    case CLI_FMT_CSV:
        /* Names and ISO dates never need CSV quoting. */
        printf("%s,%s,%s\n", cols[0], cols[1], cols[2]);
        for (size_t i = 0; i < n; i++)
            printf("%s,%s,%s\n", arr[i].name, sm_or(arr[i].created_at, ""),
                   sm_or(arr[i].rotated_at, ""));
        break;
    case CLI_FMT_JSON:
        fputc('[', stdout);
        for (size_t i = 0; i < n; i++) {
            sm_buf_reset(&b);
            (void)sm_buf_adds(&b, i ? ",\n{\"name\":" : "\n{\"name\":");
            (void)sm_buf_add_json_str(&b, arr[i].name);
            (void)sm_buf_adds(&b, ",\"created_at\":");
            (void)sm_buf_add_json_str(&b, sm_or(arr[i].created_at, ""));
            (void)sm_buf_adds(&b, ",\"rotated_at\":");
            if (arr[i].rotated_at)
                (void)sm_buf_add_json_str(&b, arr[i].rotated_at);
            else
                (void)sm_buf_adds(&b, "null");
            (void)sm_buf_addc(&b, '}');
            fputs(b.buf, stdout);
        }
        printf("%s]\n", n ? "\n" : "");
        break;
    default: {
        int w[3] = {(int)strlen(cols[0]), (int)strlen(cols[1]), (int)strlen(cols[2])};
        for (size_t i = 0; i < n; i++) {
            const char *v[3] = {arr[i].name, sm_or(arr[i].created_at, ""),
                                sm_or(arr[i].rotated_at, "")};
            for (int c = 0; c < 3; c++)
                if ((int)strlen(v[c]) > w[c])
                    w[c] = (int)strlen(v[c]);
        }
        printf("%-*s | %-*s | %s\n", w[0], cols[0], w[1], cols[1], cols[2]);
        for (int c = 0; c < 3; c++) {
            for (int k = 0; k < w[c]; k++)
                putchar('-');
            if (c < 2)
                fputs("-+-", stdout);
        }
        putchar('\n');
        for (size_t i = 0; i < n; i++)
            printf("%-*s | %-*s | %s\n", w[0], arr[i].name, w[1], sm_or(arr[i].created_at, ""),
                   sm_or(arr[i].rotated_at, ""));
        printf("(%zu secret%s)\n", n, n == 1 ? "" : "s");
        break;
    }
    }
    sm_buf_release(&b);
}

static int do_list(struct store *s, const struct args *a, struct sm_err *err)
{
    struct st_secret *arr = NULL;
    size_t n = 0;
    SM_TRY(st_secret_list(s->st, &arr, &n, err));
    print_list(arr, n, a->fmt);
    st_secret_free_array(arr, n);
    return 0;
}

/* The new key of a rekey: from SMELT_NEW_MASTER_KEY when the current one
 * comes from the environment (smelt cannot change its caller's
 * environment), else a new random key written to master.key.new. */
static int new_key(struct store *s, const struct sec_key *old, struct sec_key *out,
                   struct sm_err *err)
{
    if (old->origin == SEC_KEY_FROM_ENV) {
        const char *t = getenv(NEW_KEY_ENV);
        if (!t || !*t)
            return sm_err_set(err, SM_ECONFIG,
                              "the master key comes from %s, which smelt cannot change: put the "
                              "new key in %s (64 hex digits, e.g. from 'openssl rand -hex 32') "
                              "and run 'smelt secrets rekey' again",
                              SEC_KEY_ENV, NEW_KEY_ENV);
        SM_TRY(sec_key_parse(t, NEW_KEY_ENV, out, err));
        if (sec_key_equal(out, old)) {
            sec_key_release(out);
            return sm_err_set(err, SM_ECONFIG, "%s is the same key as %s", NEW_KEY_ENV,
                              SEC_KEY_ENV);
        }
        return 0;
    }
    sec_key_generate(out);
    int rc = sec_key_write_file(s->pending_path, out, err);
    if (rc)
        sec_key_release(out);
    return rc;
}

static int do_rekey(struct store *s, const struct args *a, struct sm_err *err)
{
    struct sm_err e = SM_ERR_INIT;
    struct sec_key old = {0}, nk = {0};
    struct st_secret *arr = NULL;
    char **values = NULL;
    size_t n = 0;
    bool pending = false, committed = false;
    int rc;

    (void)a;
    SM_TRY(finish_rekey(s, err));
    SM_TRY(st_secret_list(s->st, &arr, &n, err));
    values = sm_calloc(n ? n : 1, sizeof(*values));
    rc = sec_key_load(s->state_dir, false, &old, &e);
    if (rc == SM_ENOTFOUND && !n) {
        rc = 0; /* nothing to re-encrypt: only a key file to write */
        old.origin = SEC_KEY_FROM_FILE;
    } else if (rc) {
        sm_err_set(err, e.code, "%s", e.msg);
        goto out;
    }
    /* Every value is decrypted before anything changes, so a secret the
     * current key cannot open stops the rekey with nothing done. */
    for (size_t i = 0; i < n && !rc; i++)
        if ((rc = open_secret(&old, &arr[i], &values[i], err)))
            sm_err_prefix(err, rc, "rekey stopped, nothing changed");
    if (rc || (rc = new_key(s, &old, &nk, err)))
        goto out;
    pending = old.origin != SEC_KEY_FROM_ENV;
    if ((rc = st_begin(s->st, err)))
        goto out;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char nonce[SEC_NONCE_BYTES];
        struct st_secret sec = {.name = arr[i].name, .nonce = nonce, .nonce_len = sizeof(nonce)};
        if (!(rc = sec_encrypt(&nk, arr[i].name, values[i], nonce, &sec.ciphertext,
                               &sec.ciphertext_len, err)))
            rc = st_secret_put(s->st, &sec, ST_SECRET_REWRAP, err);
        free(sec.ciphertext);
    }
    if (rc) {
        st_rollback(s->st);
        goto out;
    }
    if ((rc = st_commit(s->st, err)))
        goto out;
    committed = true;
    /* A failure here leaves master.key.new for finish_rekey() to install. */
    if (pending && (rc = sec_key_file_rename(s->pending_path, s->key_path, err)))
        goto out;
    if (pending)
        printf("re-encrypted %zu secret%s under a new master key in '%s'\n", n, n == 1 ? "" : "s",
               s->key_path);
    else
        printf("re-encrypted %zu secret%s under the key in %s: set %s to that key from now on\n", n,
               n == 1 ? "" : "s", NEW_KEY_ENV, SEC_KEY_ENV);
out:
    if (rc && pending && !committed)
        unlink(s->pending_path);
    for (size_t i = 0; i < n; i++)
        sec_value_free(values[i]);
    free(values);
    st_secret_free_array(arr, n);
    sec_key_release(&old);
    sec_key_release(&nk);
    return rc;
}

/* --- dispatch ---------------------------------------------------------------- */

static const struct subcommand {
    const char *name;
    int (*fn)(struct store *s, const struct args *a, struct sm_err *err);
    bool takes_name;
    bool takes_format;
    bool reads_value; /* from stdin or a prompt, never from argv */
} subcommands[] = {
    {"set", do_set, true, false, true},       {"get", do_get, true, false, false},
    {"list", do_list, false, true, false},    {"rm", do_rm, true, false, false},
    {"rotate", do_rotate, true, false, true}, {"rekey", do_rekey, false, false, false},
};

/* Parse the subcommand's arguments. An argument that is not expected is
 * never echoed: it may well be a value typed where it does not belong. */
static int parse_args(const struct subcommand *sc, int argc, char **argv, struct args *out,
                      struct sm_err *err)
{
    memset(out, 0, sizeof(*out));
    out->fmt = CLI_FMT_AUTO;
    for (int i = 2; i < argc; i++) {
        if (sc->takes_format && !strcmp(argv[i], "--format") && i + 1 < argc) {
            if (!cli_parse_format(argv[++i], &out->fmt))
                return sm_err_set(err, SM_EINVALID, "unknown format '%s': use table, csv or json",
                                  argv[i]);
        } else if (sc->takes_name && !out->name && argv[i][0] != '-') {
            out->name = argv[i];
        } else if (sc->reads_value && out->name) {
            return sm_err_set(err, SM_EINVALID,
                              "'smelt secrets %s' takes no value on the command line (it would "
                              "show in the process list and the shell history): pipe it into "
                              "stdin or type it at the prompt",
                              sc->name);
        } else {
            return sm_err_set(err, SM_EINVALID,
                              "'smelt secrets %s': unexpected argument %d (not shown); see "
                              "'smelt secrets --help'",
                              sc->name, i);
        }
    }
    if (sc->takes_name && !out->name)
        return sm_err_set(err, SM_EINVALID, "'smelt secrets %s' needs a secret NAME", sc->name);
    if (sc->takes_name)
        SM_TRY(sec_name_check(out->name, err));
    return 0;
}

int cmd_secrets(int argc, char **argv, struct cli_ctx *ctx)
{
    const struct cli_command *cmd = cli_find("secrets");
    const struct subcommand *sc = NULL;
    struct sm_err err = SM_ERR_INIT;
    struct store s = {0};
    struct args a;

    if (argc < 2) {
        cli_usage(cmd, stderr);
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        if (!strcmp(argv[1], subcommands[i].name))
            sc = &subcommands[i];
    if (!sc) {
        fprintf(stderr,
                "smelt: error: unknown subcommand 'secrets %s': use set, get, list, rm, "
                "rotate or rekey\n",
                argv[1]);
        return CLI_EXIT_USAGE;
    }
    if (parse_args(sc, argc, argv, &a, &err))
        return cli_fail(&err);
    if (store_open(ctx->dir, &s, &err) || sc->fn(&s, &a, &err)) {
        store_close(&s);
        return cli_fail(&err);
    }
    store_close(&s);
    return fflush(stdout) ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}
