/*
 * duckq — a test tool, not part of smelt: runs each argument as SQL in one
 * in-memory DuckDB and prints the last statement's result as CSV (header +
 * rows, NULL as empty). Tests use it to compute expected figures straight
 * from raw files, independently of smelt's own code.
 */
#include <duckdb.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    duckdb_database db;
    duckdb_connection con;
    if (duckdb_open(NULL, &db) == DuckDBError || duckdb_connect(db, &con) == DuckDBError) {
        fprintf(stderr, "duckq: cannot open duckdb\n");
        return 1;
    }
    int rc = 0;
    for (int a = 1; a < argc && !rc; a++) {
        duckdb_result res;
        if (duckdb_query(con, argv[a], &res) == DuckDBError) {
            fprintf(stderr, "duckq: %s\n", duckdb_result_error(&res));
            rc = 1;
        } else if (a == argc - 1) {
            idx_t nc = duckdb_column_count(&res), nr = duckdb_row_count(&res);
            for (idx_t c = 0; c < nc; c++)
                printf("%s%s", c ? "," : "", duckdb_column_name(&res, c));
            printf("\n");
            for (idx_t r = 0; r < nr; r++) {
                for (idx_t c = 0; c < nc; c++) {
                    char *v = duckdb_value_varchar(&res, c, r);
                    printf("%s%s", c ? "," : "", v ? v : "");
                    duckdb_free(v);
                }
                printf("\n");
            }
        }
        duckdb_destroy_result(&res);
    }
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return rc;
}
