-- bench/handwritten.sql — the pipeline of `smelt init`'s example project written
-- by hand as plain DuckDB SQL: the baseline of step (b) in bench/pipeline.sh.
--
-- It mirrors the generated project (sources/*.yml, models/silver/*.sql,
-- models/gold/*.sql) and writes every table as Parquet, as smelt does, but
-- without Delta logs, state, landing copies or per-task bookkeeping. After
-- the timed runs, pipeline.sh compares its output with smelt's lake row by
-- row, so a drift between this file and the generated models shows up there.
--
-- pipeline.sh substitutes the @NAME@ placeholders and joins the sections:
--   settings + (bronze-write | bronze-read) + silver + gold
-- "-- @@ name" lines start a section. Statements end with ";" at the end of
-- a line (pipeline.sh runs each statement as one duckq argument).

-- @@ settings
-- The same engine settings as the generated smelt.yml (defaults:).
SET threads = @THREADS@;
SET memory_limit = '@MEMORY_LIMIT@';
SET temp_directory = '@OUT@/tmp';
CREATE SCHEMA bronze;
CREATE SCHEMA silver;
CREATE SCHEMA gold;

-- @@ bronze-write
-- Variant (b): land the raw files into bronze Parquet (declared columns plus
-- the provenance columns smelt adds), with rejected CSV lines in quarantine,
-- then let silver read bronze back from Parquet, as smelt does.
COPY (
    SELECT order_id, line_no, order_ts, updated_at, status, customer_id, store_id,
           product_id, quantity, unit_price,
           split_part(filename, '/', -2) AS _batch_id, filename AS _source_file,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_csv([@ORDERS_FILES@], filename = true,
                  columns = {'order_id': 'BIGINT', 'line_no': 'INTEGER',
                             'order_ts': 'TIMESTAMP', 'updated_at': 'TIMESTAMP',
                             'status': 'VARCHAR', 'customer_id': 'BIGINT',
                             'store_id': 'INTEGER', 'product_id': 'INTEGER',
                             'quantity': 'INTEGER', 'unit_price': 'DECIMAL(10,2)'},
                  header = true, auto_detect = false, delim = ',',
                  timestampformat = '%Y-%m-%d %H:%M:%S',
                  store_rejects = true, rejects_table = 'rej_orders',
                  rejects_scan = 'rej_orders_scans')
) TO '@OUT@/bronze/orders.parquet' (FORMAT parquet);
-- the point-of-sale feed: the zip's members, extracted by unzip before this runs
COPY (
    SELECT order_id, line_no, order_ts, updated_at, status, customer_id, store_id,
           product_id, quantity, unit_price,
           split_part(filename, '/', -2) AS _batch_id, filename AS _source_file,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_csv('@POS_DIR@/*.csv', filename = true,
                  columns = {'order_id': 'BIGINT', 'line_no': 'INTEGER',
                             'order_ts': 'TIMESTAMP', 'updated_at': 'TIMESTAMP',
                             'status': 'VARCHAR', 'customer_id': 'BIGINT',
                             'store_id': 'INTEGER', 'product_id': 'INTEGER',
                             'quantity': 'INTEGER', 'unit_price': 'DECIMAL(10,2)'},
                  header = true, auto_detect = false, delim = ',',
                  timestampformat = '%Y-%m-%d %H:%M:%S',
                  store_rejects = true, rejects_table = 'rej_pos',
                  rejects_scan = 'rej_pos_scans')
) TO '@OUT@/bronze/orders_pos.parquet' (FORMAT parquet);
COPY (
    SELECT customer_id, name, email, city, signup_date, updated_at,
           split_part(filename, '/', -2) AS _batch_id, filename AS _source_file,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_json(['@CUSTOMERS_FILE@'], filename = true, format = 'newline_delimited',
                   columns = {'customer_id': 'BIGINT', 'name': 'VARCHAR', 'email': 'VARCHAR',
                              'city': 'VARCHAR', 'signup_date': 'DATE',
                              'updated_at': 'TIMESTAMP'})
) TO '@OUT@/bronze/customers.parquet' (FORMAT parquet);
COPY (
    SELECT product_id, name, category, list_price,
           split_part(filename, '/', -2) AS _batch_id, filename AS _source_file,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_csv(['@PRODUCTS_FILE@'], filename = true,
                  columns = {'product_id': 'INTEGER', 'name': 'VARCHAR',
                             'category': 'VARCHAR', 'list_price': 'DECIMAL(10,2)'},
                  header = true, auto_detect = false, delim = ',',
                  store_rejects = true, rejects_table = 'rej_products',
                  rejects_scan = 'rej_products_scans')
) TO '@OUT@/bronze/products.parquet' (FORMAT parquet);
COPY (
    SELECT store_id, name, city, region,
           split_part(filename, '/', -2) AS _batch_id, filename AS _source_file,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_csv(['@STORES_FILE@'], filename = true,
                  columns = {'store_id': 'INTEGER', 'name': 'VARCHAR', 'city': 'VARCHAR',
                             'region': 'VARCHAR'},
                  header = true, auto_detect = false, delim = ',',
                  store_rejects = true, rejects_table = 'rej_stores',
                  rejects_scan = 'rej_stores_scans')
) TO '@OUT@/bronze/stores.parquet' (FORMAT parquet);
-- Quarantine: the rejected lines, with the columns smelt's quarantine has.
COPY (
    SELECT s.file_path AS _source_file, CAST(e.line AS BIGINT) AS line, e.column_name,
           CAST(e.error_type AS VARCHAR) AS error_type, e.csv_line AS raw,
           e.error_message AS error, split_part(s.file_path, '/', -2) AS _batch_id,
           TIMESTAMP '@INGESTED_AT@' AS _quarantined_at
    FROM rej_orders e JOIN rej_orders_scans s USING (scan_id, file_id)
    UNION ALL
    SELECT s.file_path, CAST(e.line AS BIGINT), e.column_name, CAST(e.error_type AS VARCHAR),
           e.csv_line, e.error_message, split_part(s.file_path, '/', -2),
           TIMESTAMP '@INGESTED_AT@'
    FROM rej_pos e JOIN rej_pos_scans s USING (scan_id, file_id)
    UNION ALL
    SELECT s.file_path, CAST(e.line AS BIGINT), e.column_name, CAST(e.error_type AS VARCHAR),
           e.csv_line, e.error_message, split_part(s.file_path, '/', -2),
           TIMESTAMP '@INGESTED_AT@'
    FROM rej_products e JOIN rej_products_scans s USING (scan_id, file_id)
    UNION ALL
    SELECT s.file_path, CAST(e.line AS BIGINT), e.column_name, CAST(e.error_type AS VARCHAR),
           e.csv_line, e.error_message, split_part(s.file_path, '/', -2),
           TIMESTAMP '@INGESTED_AT@'
    FROM rej_stores e JOIN rej_stores_scans s USING (scan_id, file_id)
) TO '@OUT@/quarantine/rejects.parquet' (FORMAT parquet);
CREATE VIEW bronze.orders AS SELECT * FROM read_parquet('@OUT@/bronze/orders.parquet');
CREATE VIEW bronze.orders_pos AS SELECT * FROM read_parquet('@OUT@/bronze/orders_pos.parquet');
CREATE VIEW bronze.customers AS SELECT * FROM read_parquet('@OUT@/bronze/customers.parquet');
CREATE VIEW bronze.products AS SELECT * FROM read_parquet('@OUT@/bronze/products.parquet');
CREATE VIEW bronze.stores AS SELECT * FROM read_parquet('@OUT@/bronze/stores.parquet');

-- @@ bronze-read
-- Variant (b'): no bronze tables; silver reads the raw files directly
-- (same readers and options, rejects still collected, never written).
CREATE VIEW bronze.orders AS
    SELECT order_id, line_no, order_ts, updated_at, status, customer_id, store_id,
           product_id, quantity, unit_price,
           split_part(filename, '/', -2) AS _batch_id, filename AS _source_file,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_csv([@ORDERS_FILES@], filename = true,
                  columns = {'order_id': 'BIGINT', 'line_no': 'INTEGER',
                             'order_ts': 'TIMESTAMP', 'updated_at': 'TIMESTAMP',
                             'status': 'VARCHAR', 'customer_id': 'BIGINT',
                             'store_id': 'INTEGER', 'product_id': 'INTEGER',
                             'quantity': 'INTEGER', 'unit_price': 'DECIMAL(10,2)'},
                  header = true, auto_detect = false, delim = ',',
                  timestampformat = '%Y-%m-%d %H:%M:%S',
                  store_rejects = true, rejects_table = 'rej_orders',
                  rejects_scan = 'rej_orders_scans');
CREATE VIEW bronze.orders_pos AS
    SELECT order_id, line_no, order_ts, updated_at, status, customer_id, store_id,
           product_id, quantity, unit_price,
           split_part(filename, '/', -2) AS _batch_id, filename AS _source_file,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_csv('@POS_DIR@/*.csv', filename = true,
                  columns = {'order_id': 'BIGINT', 'line_no': 'INTEGER',
                             'order_ts': 'TIMESTAMP', 'updated_at': 'TIMESTAMP',
                             'status': 'VARCHAR', 'customer_id': 'BIGINT',
                             'store_id': 'INTEGER', 'product_id': 'INTEGER',
                             'quantity': 'INTEGER', 'unit_price': 'DECIMAL(10,2)'},
                  header = true, auto_detect = false, delim = ',',
                  timestampformat = '%Y-%m-%d %H:%M:%S',
                  store_rejects = true, rejects_table = 'rej_pos',
                  rejects_scan = 'rej_pos_scans');
CREATE VIEW bronze.customers AS
    SELECT customer_id, name, email, city, signup_date, updated_at,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_json(['@CUSTOMERS_FILE@'], format = 'newline_delimited',
                   columns = {'customer_id': 'BIGINT', 'name': 'VARCHAR', 'email': 'VARCHAR',
                              'city': 'VARCHAR', 'signup_date': 'DATE',
                              'updated_at': 'TIMESTAMP'});
CREATE VIEW bronze.products AS
    SELECT product_id, name, category, list_price,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_csv(['@PRODUCTS_FILE@'],
                  columns = {'product_id': 'INTEGER', 'name': 'VARCHAR',
                             'category': 'VARCHAR', 'list_price': 'DECIMAL(10,2)'},
                  header = true, auto_detect = false, delim = ',',
                  store_rejects = true, rejects_table = 'rej_products',
                  rejects_scan = 'rej_products_scans');
CREATE VIEW bronze.stores AS
    SELECT store_id, name, city, region,
           TIMESTAMP '@INGESTED_AT@' AS _ingested_at
    FROM read_csv(['@STORES_FILE@'],
                  columns = {'store_id': 'INTEGER', 'name': 'VARCHAR', 'city': 'VARCHAR',
                             'region': 'VARCHAR'},
                  header = true, auto_detect = false, delim = ',',
                  store_rejects = true, rejects_table = 'rej_stores',
                  rejects_scan = 'rej_stores_scans');

-- @@ silver
-- models/silver/orders.sql, partitioned by order_date (models/silver/orders.yml).
COPY (
    SELECT order_id, line_no, order_ts, CAST(order_ts AS DATE) AS order_date, updated_at,
           status, customer_id, store_id, product_id, quantity, unit_price,
           quantity * unit_price AS line_amount
    FROM (SELECT * FROM bronze.orders UNION ALL BY NAME SELECT * FROM bronze.orders_pos)
    QUALIFY row_number() OVER (PARTITION BY order_id, line_no
                               ORDER BY updated_at DESC, _ingested_at DESC) = 1
        AND quantity > 0
) TO '@OUT@/silver/orders' (FORMAT parquet, PARTITION_BY (order_date));
-- models/silver/customers.sql
COPY (
    SELECT customer_id, name, email, city, signup_date, updated_at
    FROM bronze.customers
    WHERE customer_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY customer_id
                               ORDER BY updated_at DESC, _ingested_at DESC) = 1
) TO '@OUT@/silver/customers.parquet' (FORMAT parquet);
-- models/silver/customers_history.sql (a snapshot: on the first build, one
-- current version per customer from its updated_at)
COPY (
    SELECT *, CAST(updated_at AS TIMESTAMP) AS valid_from, CAST(NULL AS TIMESTAMP) AS valid_to,
           true AS is_current
    FROM read_parquet('@OUT@/silver/customers.parquet')
) TO '@OUT@/silver/customers_history.parquet' (FORMAT parquet);
-- models/silver/products.sql
COPY (
    SELECT product_id, name, category, list_price
    FROM bronze.products
    WHERE product_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY product_id ORDER BY _ingested_at DESC) = 1
) TO '@OUT@/silver/products.parquet' (FORMAT parquet);
-- models/silver/stores.sql
COPY (
    SELECT store_id, name, city, region
    FROM bronze.stores
    WHERE store_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY store_id ORDER BY _ingested_at DESC) = 1
) TO '@OUT@/silver/stores.parquet' (FORMAT parquet);
CREATE VIEW silver.orders AS
    SELECT * REPLACE (CAST(order_date AS DATE) AS order_date)
    FROM read_parquet('@OUT@/silver/orders/*/*.parquet', hive_partitioning = true);
CREATE VIEW silver.customers AS SELECT * FROM read_parquet('@OUT@/silver/customers.parquet');
CREATE VIEW silver.products AS SELECT * FROM read_parquet('@OUT@/silver/products.parquet');
CREATE VIEW silver.stores AS SELECT * FROM read_parquet('@OUT@/silver/stores.parquet');

-- @@ gold
-- models/gold/daily_sales.sql, partitioned by day (models/gold/daily_sales.yml).
COPY (
    SELECT o.order_date AS day, o.store_id, s.name AS store_name, s.region,
           CAST(sum(o.line_amount) AS DECIMAL(18,2)) AS revenue,
           count(DISTINCT o.order_id) AS orders,
           CAST(sum(o.quantity) AS BIGINT) AS units
    FROM silver.orders AS o
    LEFT JOIN silver.stores AS s ON s.store_id = o.store_id
    WHERE o.status <> 'cancelled'
    GROUP BY o.order_date, o.store_id, s.name, s.region
) TO '@OUT@/gold/daily_sales' (FORMAT parquet, PARTITION_BY (day));
-- models/gold/customer_lifetime_value.sql
COPY (
    SELECT o.customer_id, c.name, c.city,
           min(o.order_date) AS first_order_date,
           max(o.order_date) AS last_order_date,
           count(DISTINCT o.order_id) AS orders,
           CAST(sum(o.line_amount) AS DECIMAL(18,2)) AS revenue
    FROM silver.orders AS o
    LEFT JOIN silver.customers AS c ON c.customer_id = o.customer_id
    WHERE o.customer_id IS NOT NULL AND o.status <> 'cancelled'
    GROUP BY o.customer_id, c.name, c.city
) TO '@OUT@/gold/customer_lifetime_value.parquet' (FORMAT parquet);
-- models/gold/product_performance.sql
COPY (
    SELECT o.product_id, p.name, p.category,
           CAST(sum(o.quantity) AS BIGINT) AS units,
           CAST(sum(o.line_amount) AS DECIMAL(18,2)) AS revenue,
           count(DISTINCT o.order_id) AS orders,
           rank() OVER (PARTITION BY p.category ORDER BY sum(o.line_amount) DESC)
               AS revenue_rank_in_category
    FROM silver.orders AS o
    LEFT JOIN silver.products AS p ON p.product_id = o.product_id
    WHERE o.status <> 'cancelled'
    GROUP BY o.product_id, p.name, p.category
) TO '@OUT@/gold/product_performance.parquet' (FORMAT parquet);
