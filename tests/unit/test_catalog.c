/*
 * Unit tests for catalog/scan.c's guess at the tables a query names, made
 * before DuckDB has started (cat_guess_names()). Every expected list is
 * read off the SQL by hand: the names outside strings and comments, as
 * written.
 */
#include "catalog/catalog_int.h"

#include <setjmp.h>
/* cmocka.h needs setjmp.h first */
#include <cmocka.h>

/* The guess for sql, as "zone|name zone|name ..." */
static char *guess(const char *sql, size_t max)
{
    char **names;
    size_t n = cat_guess_names(sql, max, &names);
    struct sm_buf b = SM_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        (void)sm_buf_addf(&b, "%s%s|%s", i ? " " : "", names[2 * i], names[2 * i + 1]);
        free(names[2 * i]);
        free(names[2 * i + 1]);
    }
    free(names);
    (void)sm_buf_adds(&b, "");
    return sm_buf_detach(&b);
}

#define assert_guess(sql, max, want)                                                             \
    do {                                                                                         \
        char *got_ = guess(sql, max);                                                            \
        assert_string_equal(got_, want);                                                         \
        free(got_);                                                                              \
    } while (0)

static void test_plain(void **state)
{
    (void)state;
    assert_guess("SELECT count(*) FROM silver.events WHERE day = '2025-07-02'", 16,
                 "silver|events");
    assert_guess("select * from Gold.Daily_Sales d join silver.orders o on d.day = o.day", 16,
                 "Gold|Daily_Sales silver|orders d|day o|day");
    /* each pair once */
    assert_guess("SELECT * FROM a.b UNION ALL SELECT * FROM a.b", 16, "a|b");
    assert_guess("SELECT 1", 16, "");
    assert_guess("", 16, "");
}

static void test_quoted(void **state)
{
    (void)state;
    assert_guess("SELECT * FROM \"silver\".\"my table\"", 16, "silver|my table");
    assert_guess("SELECT * FROM \"we\"\"ird\".x", 16, "we\"ird|x");
    /* an empty quoted name is no table */
    assert_guess("SELECT * FROM \"\".x, a.\"\"", 16, "");
    /* unterminated: nothing, and no read past the end */
    assert_guess("SELECT * FROM \"silver", 16, "");
    assert_guess("SELECT * FROM silver.\"ev", 16, "");
}

static void test_skipped(void **state)
{
    (void)state;
    assert_guess("SELECT 'silver.events', 'it''s gold.x' FROM bronze.y", 16, "bronze|y");
    assert_guess("SELECT 1 -- FROM silver.events\nFROM gold.z", 16, "gold|z");
    assert_guess("SELECT 1 /* silver.events */ FROM gold.z /* open", 16, "gold|z");
    assert_guess("SELECT $$silver.events$$, $t$ a.b $t$ FROM gold.z", 16, "gold|z");
    assert_guess("SELECT $1, 1.5, 2.e3 FROM gold.z", 16, "gold|z");
    /* three-part names: a catalog, or a struct field */
    assert_guess("SELECT * FROM memory.silver.events, s.t.u.v", 16, "");
    /* unterminated string and comment: nothing after them */
    assert_guess("SELECT 'silver.events", 16, "");
    assert_guess("SELECT $x$ silver.events", 16, "");
}

static void test_max(void **state)
{
    (void)state;
    assert_guess("SELECT * FROM a.b, c.d, e.f", 2, "a|b c|d");
    assert_guess("SELECT * FROM a.b, c.d, e.f", 0, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_quoted),
        cmocka_unit_test(test_skipped),
        cmocka_unit_test(test_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
