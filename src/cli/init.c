/*
 * init.c — `smelt init NAME`: scaffold a complete example project for a
 * retail shop and generate its raw data. The project (smelt.yml, sources,
 * silver and gold models, README, .gitignore) comes from the static
 * templates below; the data under incoming/ is generated: one gzip CSV of
 * order lines per day, customers as JSON lines, products and stores as CSV.
 *
 * The order feed carries the defects real feeds have, mixed in at fixed
 * rates so that every stage of the pipeline has something to do: exact
 * duplicate lines, late updates (an order re-sent in a later day's file with
 * a newer status), missing customer ids, negative quantities, malformed
 * lines and one truncated gzip file, at the rates of the RATE_* constants;
 * the summary printed at the end counts what was written.
 *
 * Invariants: the output depends only on the arguments (NAME, --rows,
 * --days, --seed): one xoshiro256** generator seeded from --seed drives the
 * orders and reference data, customers get one generator each (seeded from
 * --seed and their id) so a customer's later update can be re-derived
 * instead of kept in memory, and no clock or pid is read. Order days are
 * streamed through deflate into the file, so memory is bounded by one day's
 * orders plus the re-sends not yet due. Big files are written to a temporary
 * name and renamed, like sm_write_file_atomic() does for small ones.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <zlib.h>

#include "cli/cli.h"

#define INIT_USAGE "smelt init NAME [--rows N] [--days D] [--seed S] [--force]"

enum {
    DEFAULT_ROWS = 100000,
    DEFAULT_DAYS = 30,
    DEFAULT_SEED = 42,
    MAX_ROWS = 100000000,
    MAX_DAYS = 3660,
    START_YEAR = 2026, /* first order day: 2026-01-01 */
    N_PRODUCTS = 200,
    N_STORES = 10,
    MIN_CUSTOMERS = 50,
    ROWS_PER_CUSTOMER = 20,
    FIRST_ORDER_ID = 1000001,
    POS_FIRST_ORDER_ID = 900000001, /* in-store sales */
    TRUNCATED_DAY = 7,     /* 1-based; the last day when --days is smaller */
    TRUNCATE_PERCENT = 60, /* of the compressed bytes kept */
    MAX_LINES_PER_ORDER = 5,
    MAX_RESEND_DELAY = 3, /* days */
};

/* Defect rates, per million (orders or lines, as named). */
enum {
    RATE_DUPLICATE_LINE = 5000,    /* 0.5% of lines written twice */
    RATE_RESEND_ORDER = 22000,     /* 2.2% of non-cancelled orders ~ 2% of all */
    RATE_MISSING_CUSTOMER = 10000, /* 1% of orders (all their lines) */
    RATE_NEGATIVE_QUANTITY = 3000, /* 0.3% of lines */
    RATE_MALFORMED_LINE = 1000,    /* 0.1% of lines */
    RATE_DISCOUNT_LINE = 120000,   /* 12% of lines sold below list price */
    RATE_CUSTOMER_UPDATE = 10000,  /* 1% of customers appear twice */
    RATE_LOYAL_CUSTOMER = 250000,  /* 25% of orders from the first tenth */
};

/* --- project templates ---------------------------------------------------- */

static const char gitignore_text[] = "lake/\n.smelt/\n";

static const char source_orders_yml[] =
    "kind: files\n"
    "path: incoming/orders\n"
    "glob: \"orders_*.csv.gz\"\n"
    "format: csv\n"
    "options: {header: true, delimiter: \",\", timestamp_format: \"%Y-%m-%d %H:%M:%S\"}\n"
    "columns:\n"
    "  order_id: BIGINT\n"
    "  line_no: INTEGER\n"
    "  order_ts: TIMESTAMP\n"
    "  updated_at: TIMESTAMP\n"
    "  status: VARCHAR\n"
    "  customer_id: {type: BIGINT, nullable: true}\n"
    "  store_id: INTEGER\n"
    "  product_id: INTEGER\n"
    "  quantity: INTEGER\n"
    "  unit_price: DECIMAL(10,2)\n"
    "description: one gzipped CSV of order lines per day from the shop system\n";

static const char source_orders_pos_yml[] =
    "kind: files\n"
    "path: incoming/orders_pos\n"
    "glob: \"pos_*.zip\"\n"
    "format: csv\n"
    "options: {header: true, timestamp_format: \"%Y-%m-%d %H:%M:%S\"}\n"
    "columns:\n"
    "  order_id: BIGINT\n"
    "  line_no: INTEGER\n"
    "  order_ts: TIMESTAMP\n"
    "  updated_at: TIMESTAMP\n"
    "  status: VARCHAR\n"
    "  customer_id: {type: BIGINT, nullable: true}\n"
    "  store_id: INTEGER\n"
    "  product_id: INTEGER\n"
    "  quantity: INTEGER\n"
    "  unit_price: DECIMAL(10,2)\n"
    "description: in-store sales from the on-premises point-of-sale system, one zip of daily "
    "CSVs\n";

static const char source_customers_yml[] =
    "kind: files\n"
    "path: incoming/customers\n"
    "glob: \"customers*.ndjson\"\n"
    "format: ndjson\n"
    "columns:\n"
    "  customer_id: BIGINT\n"
    "  name: VARCHAR\n"
    "  email: VARCHAR\n"
    "  city: VARCHAR\n"
    "  signup_date: DATE\n"
    "  updated_at: TIMESTAMP\n"
    "description: customer master data as JSON lines; a changed customer is appended again "
    "with a newer updated_at\n";

static const char source_products_yml[] = "kind: files\n"
                                          "path: incoming/products\n"
                                          "glob: \"products*.csv\"\n"
                                          "format: csv\n"
                                          "options: {header: true, delimiter: \",\"}\n"
                                          "columns:\n"
                                          "  product_id: INTEGER\n"
                                          "  name: VARCHAR\n"
                                          "  category: VARCHAR\n"
                                          "  list_price: DECIMAL(10,2)\n"
                                          "description: product catalogue with list prices\n";

static const char source_stores_yml[] = "kind: files\n"
                                        "path: incoming/stores\n"
                                        "glob: \"stores*.csv\"\n"
                                        "format: csv\n"
                                        "options: {header: true, delimiter: \",\"}\n"
                                        "columns:\n"
                                        "  store_id: INTEGER\n"
                                        "  name: VARCHAR\n"
                                        "  city: VARCHAR\n"
                                        "  region: VARCHAR\n"
                                        "description: the shop's stores and their sales regions\n";

static const char silver_orders_sql[] =
    "-- silver.orders: one row per order line, the latest version of it.\n"
    "--   * reads bronze.orders (the web shop) and bronze.orders_pos (in-store sales):\n"
    "--     every line received, re-sends and duplicates included\n"
    "--   * per (order_id, line_no) keeps the row with the greatest updated_at, ties\n"
    "--     broken by the greatest _ingested_at; exact duplicate lines collapse to one\n"
    "--   * then drops the line when the kept version has quantity NULL or <= 0\n"
    "--     (QUALIFY filters after the window: row_number() sees every version)\n"
    "--   * customer_id NULL (missing in the feed) stays NULL\n"
    "--   * order_date = CAST(order_ts AS DATE); line_amount = quantity * unit_price\n"
    "SELECT order_id, line_no, order_ts, CAST(order_ts AS DATE) AS order_date, updated_at,\n"
    "       status, customer_id, store_id, product_id, quantity, unit_price,\n"
    "       quantity * unit_price AS line_amount\n"
    "FROM (SELECT * FROM bronze.orders UNION ALL BY NAME SELECT * FROM bronze.orders_pos)\n"
    "QUALIFY row_number() OVER (PARTITION BY order_id, line_no\n"
    "                           ORDER BY updated_at DESC, _ingested_at DESC) = 1\n"
    "    AND quantity > 0\n";

static const char silver_orders_yml[] =
    "description: order lines, the latest version of each (order_id, line_no), without lines "
    "of zero or negative quantity\n"
    "# each run recomputes only the lines received again or anew, from every\n"
    "# version of those lines, and rewrites only the files that hold them\n"
    "materialized: incremental\n"
    "incremental_strategy: merge\n"
    "unique_key: [order_id, line_no]\n"
    "partition_by: order_date\n";

static const char silver_customers_sql[] =
    "-- silver.customers: one row per customer, the latest record.\n"
    "--   * reads bronze.customers; rows with customer_id NULL are dropped\n"
    "--   * per customer_id keeps the row with the greatest updated_at, ties broken by\n"
    "--     the greatest _ingested_at (a changed customer is sent again, later wins)\n"
    "SELECT customer_id, name, email, city, signup_date, updated_at\n"
    "FROM bronze.customers\n"
    "WHERE customer_id IS NOT NULL\n"
    "QUALIFY row_number() OVER (PARTITION BY customer_id\n"
    "                           ORDER BY updated_at DESC, _ingested_at DESC) = 1\n";

static const char silver_customers_yml[] =
    "description: customers, the latest record of each customer_id\n"
    "materialized: table\n"
    "unique_key: customer_id\n";

static const char silver_customers_history_sql[] =
    "-- silver.customers_history: every version of every customer (SCD type 2).\n"
    "--   * reads silver.customers, the latest record of each customer\n"
    "--   * smelt adds valid_from, valid_to (NULL while current) and is_current:\n"
    "--     a customer whose updated_at grew gets a new version, the old one closed\n"
    "SELECT customer_id, name, email, city, signup_date, updated_at\n"
    "FROM silver.customers\n";

static const char silver_customers_history_yml[] =
    "description: every version of each customer, valid_from / valid_to / is_current\n"
    "materialized: snapshot\n"
    "unique_key: customer_id\n"
    "strategy: timestamp\n"
    "updated_at: updated_at\n"
    "hard_deletes: invalidate\n";

static const char silver_products_sql[] =
    "-- silver.products: one row per product.\n"
    "--   * reads bronze.products; rows with product_id NULL are dropped\n"
    "--   * per product_id keeps the most recently ingested row (greatest _ingested_at)\n"
    "SELECT product_id, name, category, list_price\n"
    "FROM bronze.products\n"
    "WHERE product_id IS NOT NULL\n"
    "QUALIFY row_number() OVER (PARTITION BY product_id ORDER BY _ingested_at DESC) = 1\n";

static const char silver_products_yml[] = "description: product catalogue, one row per product_id\n"
                                          "materialized: table\n"
                                          "unique_key: product_id\n";

static const char silver_stores_sql[] =
    "-- silver.stores: one row per store.\n"
    "--   * reads bronze.stores; rows with store_id NULL are dropped\n"
    "--   * per store_id keeps the most recently ingested row (greatest _ingested_at)\n"
    "SELECT store_id, name, city, region\n"
    "FROM bronze.stores\n"
    "WHERE store_id IS NOT NULL\n"
    "QUALIFY row_number() OVER (PARTITION BY store_id ORDER BY _ingested_at DESC) = 1\n";

static const char silver_stores_yml[] = "description: stores, one row per store_id\n"
                                        "materialized: table\n"
                                        "unique_key: store_id\n";

static const char gold_daily_sales_sql[] =
    "-- gold.daily_sales: sales per day and store.\n"
    "--   * reads silver.orders; lines with status 'cancelled' are excluded everywhere\n"
    "--   * one row per (day, store_id) having at least one non-cancelled line;\n"
    "--     day = order_date\n"
    "--   * store_name, region from silver.stores (LEFT JOIN: NULL for an unknown store)\n"
    "--   * revenue = sum(line_amount), orders = count(DISTINCT order_id),\n"
    "--     units = sum(quantity), all over the non-cancelled lines\n"
    "--   * types: revenue DECIMAL(18,2), orders and units BIGINT\n"
    "SELECT o.order_date AS day, o.store_id, s.name AS store_name, s.region,\n"
    "       CAST(sum(o.line_amount) AS DECIMAL(18,2)) AS revenue,\n"
    "       count(DISTINCT o.order_id) AS orders,\n"
    "       CAST(sum(o.quantity) AS BIGINT) AS units\n"
    "FROM silver.orders AS o\n"
    "LEFT JOIN silver.stores AS s ON s.store_id = o.store_id\n"
    "WHERE o.status <> 'cancelled'\n"
    "GROUP BY o.order_date, o.store_id, s.name, s.region\n";

static const char gold_daily_sales_yml[] =
    "description: revenue, orders and units per day and store, cancelled lines excluded\n"
    "# each run recomputes only the days whose order lines changed and replaces\n"
    "# those day partitions\n"
    "materialized: incremental\n"
    "incremental_strategy: insert_overwrite\n"
    "unique_key: [day, store_id]\n"
    "partition_by: day\n";

static const char gold_clv_sql[] =
    "-- gold.customer_lifetime_value: what each customer has bought so far.\n"
    "--   * reads silver.orders; lines with status 'cancelled' and lines with\n"
    "--     customer_id NULL are excluded everywhere\n"
    "--   * one row per customer_id having at least one such line\n"
    "--   * name, city from silver.customers (LEFT JOIN: NULL for an unknown customer)\n"
    "--   * first_order_date = min(order_date), last_order_date = max(order_date),\n"
    "--     orders = count(DISTINCT order_id), revenue = sum(line_amount)\n"
    "--   * types: orders BIGINT, revenue DECIMAL(18,2)\n"
    "SELECT o.customer_id, c.name, c.city,\n"
    "       min(o.order_date) AS first_order_date,\n"
    "       max(o.order_date) AS last_order_date,\n"
    "       count(DISTINCT o.order_id) AS orders,\n"
    "       CAST(sum(o.line_amount) AS DECIMAL(18,2)) AS revenue\n"
    "FROM silver.orders AS o\n"
    "LEFT JOIN silver.customers AS c ON c.customer_id = o.customer_id\n"
    "WHERE o.customer_id IS NOT NULL AND o.status <> 'cancelled'\n"
    "GROUP BY o.customer_id, c.name, c.city\n";

static const char gold_clv_yml[] =
    "description: per customer first and last order date, orders and revenue, cancelled lines "
    "excluded\n"
    "materialized: table\n"
    "unique_key: customer_id\n";

static const char gold_product_sql[] =
    "-- gold.product_performance: sales per product and its rank in its category.\n"
    "--   * reads silver.orders; lines with status 'cancelled' are excluded everywhere\n"
    "--   * one row per product_id having at least one non-cancelled line\n"
    "--   * name, category from silver.products (LEFT JOIN: NULL for an unknown product)\n"
    "--   * units = sum(quantity), revenue = sum(line_amount),\n"
    "--     orders = count(DISTINCT order_id)\n"
    "--   * revenue_rank_in_category = rank() OVER (PARTITION BY category\n"
    "--     ORDER BY revenue DESC): 1 is the best seller, ties share a rank;\n"
    "--     products without a category form one group of their own\n"
    "--   * types: units, orders and the rank BIGINT, revenue DECIMAL(18,2)\n"
    "SELECT o.product_id, p.name, p.category,\n"
    "       CAST(sum(o.quantity) AS BIGINT) AS units,\n"
    "       CAST(sum(o.line_amount) AS DECIMAL(18,2)) AS revenue,\n"
    "       count(DISTINCT o.order_id) AS orders,\n"
    "       rank() OVER (PARTITION BY p.category ORDER BY sum(o.line_amount) DESC)\n"
    "           AS revenue_rank_in_category\n"
    "FROM silver.orders AS o\n"
    "LEFT JOIN silver.products AS p ON p.product_id = o.product_id\n"
    "WHERE o.status <> 'cancelled'\n"
    "GROUP BY o.product_id, p.name, p.category\n";

static const char gold_product_yml[] =
    "description: units, revenue and orders per product with its revenue rank in its "
    "category, cancelled lines excluded\n"
    "materialized: table\n"
    "unique_key: product_id\n";

/* The project files that do not depend on the arguments, in the order the
 * summary lists them. smelt.yml and README.md are built in write_project(). */
static const struct {
    const char *path;
    const char *text;
} project_files[] = {
    {".gitignore", gitignore_text},
    {"sources/orders.yml", source_orders_yml},
    {"sources/orders_pos.yml", source_orders_pos_yml},
    {"sources/customers.yml", source_customers_yml},
    {"sources/products.yml", source_products_yml},
    {"sources/stores.yml", source_stores_yml},
    {"models/silver/orders.sql", silver_orders_sql},
    {"models/silver/orders.yml", silver_orders_yml},
    {"models/silver/customers.sql", silver_customers_sql},
    {"models/silver/customers.yml", silver_customers_yml},
    {"models/silver/customers_history.sql", silver_customers_history_sql},
    {"models/silver/customers_history.yml", silver_customers_history_yml},
    {"models/silver/products.sql", silver_products_sql},
    {"models/silver/products.yml", silver_products_yml},
    {"models/silver/stores.sql", silver_stores_sql},
    {"models/silver/stores.yml", silver_stores_yml},
    {"models/gold/daily_sales.sql", gold_daily_sales_sql},
    {"models/gold/daily_sales.yml", gold_daily_sales_yml},
    {"models/gold/customer_lifetime_value.sql", gold_clv_sql},
    {"models/gold/customer_lifetime_value.yml", gold_clv_yml},
    {"models/gold/product_performance.sql", gold_product_sql},
    {"models/gold/product_performance.yml", gold_product_yml},
};

static const char *const project_dirs[] = {
    "sources",         "models/silver",     "models/gold",       "incoming/orders",
    "incoming/orders_pos", "incoming/customers", "incoming/products", "incoming/stores",
};

/* --- reference data ------------------------------------------------------- */

static const struct {
    const char *name, *city, *region;
} stores[N_STORES] = {
    {"Seattle Downtown", "Seattle", "West"},
    {"Portland Pearl District", "Portland", "West"},
    {"San Francisco Mission", "San Francisco", "West"},
    {"Denver Union Station", "Denver", "West"},
    {"Chicago Loop", "Chicago", "Midwest"},
    {"Minneapolis North Loop", "Minneapolis", "Midwest"},
    {"Austin South Congress", "Austin", "South"},
    {"Atlanta Midtown", "Atlanta", "South"},
    {"Boston Back Bay", "Boston", "Northeast"},
    {"Brooklyn Williamsburg", "New York", "Northeast"},
};
/* Each store's share of the orders. */
static const unsigned store_weights[N_STORES] = {16, 14, 12, 11, 10, 10, 9, 7, 6, 5};

#define N_CATEGORIES 6
#define N_ADJ 6
#define N_NOUN 10
static const struct {
    const char *name;
    int min_cents, max_cents;
    const char *adj[N_ADJ];
    const char *noun[N_NOUN];
} categories[N_CATEGORIES] = {
    {"Grocery",
     99,
     2999,
     {"Organic", "Fresh", "Classic", "Premium", "Family Size", "Roasted"},
     {"Coffee Beans", "Green Tea", "Olive Oil", "Pasta", "Basmati Rice", "Dark Chocolate", "Honey",
      "Granola", "Peanut Butter", "Tomato Sauce"}},
    {"Electronics",
     1999,
     89999,
     {"Wireless", "Smart", "Portable", "Compact", "Pro", "Ultra"},
     {"Headphones", "Speaker", "Charger", "Keyboard", "Mouse", "Webcam", "Monitor", "Power Bank",
      "Smartwatch", "Router"}},
    {"Home",
     499,
     24999,
     {"Ceramic", "Bamboo", "Linen", "Cast Iron", "Modern", "Cozy"},
     {"Mug Set", "Cutting Board", "Table Lamp", "Frying Pan", "Throw Blanket", "Pillow", "Vase",
      "Towel Set", "Storage Box", "Wall Clock"}},
    {"Toys",
     499,
     11999,
     {"Wooden", "Mini", "Deluxe", "Magnetic", "Rainbow", "Junior"},
     {"Puzzle", "Building Blocks", "Race Car", "Doll House", "Board Game", "Kite", "Train Set",
      "Plush Bear", "Robot Kit", "Marble Run"}},
    {"Apparel",
     799,
     14999,
     {"Cotton", "Merino", "Slim Fit", "Vintage", "Everyday", "Waterproof"},
     {"T-Shirt", "Hoodie", "Jeans", "Rain Jacket", "Socks", "Sweater", "Cap", "Scarf", "Chinos",
      "Sneakers"}},
    {"Sports",
     999,
     39999,
     {"Lightweight", "Training", "Trail", "Foldable", "Adjustable", "Pro"},
     {"Yoga Mat", "Dumbbells", "Running Shoes", "Tennis Racket", "Football", "Water Bottle",
      "Bike Helmet", "Jump Rope", "Backpack", "Resistance Bands"}},
};

/* A name as shown and as it appears in an e-mail address. */
struct person_name {
    const char *text, *ascii;
};

static const struct person_name first_names[] = {
    {"Anna", "anna"},     {"Ben", "ben"},     {"Carla", "carla"},   {"David", "david"},
    {"Emma", "emma"},     {"Farid", "farid"}, {"Grace", "grace"},   {"Hiro", "hiro"},
    {"Isabel", "isabel"}, {"Jamal", "jamal"}, {"Katrin", "katrin"}, {"Liam", "liam"},
    {"Maya", "maya"},     {"Noah", "noah"},   {"Olivia", "olivia"}, {"Pablo", "pablo"},
    {"Quinn", "quinn"},   {"Rosa", "rosa"},   {"Sven", "sven"},     {"Tara", "tara"},
    {"Umar", "umar"},     {"Vera", "vera"},   {"Wei", "wei"},       {"Ximena", "ximena"},
    {"Yusuf", "yusuf"},   {"Zoë", "zoe"},     {"Chloé", "chloe"},   {"José", "jose"},
    {"Priya", "priya"},   {"Mateo", "mateo"},
};

static const struct person_name last_names[] = {
    {"Smith", "smith"},         {"Johnson", "johnson"}, {"Garcia", "garcia"},
    {"Chen", "chen"},           {"Müller", "mueller"},  {"O'Connor", "oconnor"},
    {"Nguyen", "nguyen"},       {"Patel", "patel"},     {"Kim", "kim"},
    {"Rossi", "rossi"},         {"Silva", "silva"},     {"Kowalski", "kowalski"},
    {"Andersson", "andersson"}, {"Dubois", "dubois"},   {"Okafor", "okafor"},
    {"Yamamoto", "yamamoto"},   {"Cohen", "cohen"},     {"Novak", "novak"},
    {"Schmidt", "schmidt"},     {"Brown", "brown"},     {"Lopez", "lopez"},
    {"Murphy", "murphy"},       {"Ivanova", "ivanova"}, {"Haddad", "haddad"},
    {"Jensen", "jensen"},
};

static const char *const customer_cities[] = {
    "Seattle", "Portland", "San Francisco", "Denver",   "Chicago",     "Minneapolis",
    "Austin",  "Atlanta",  "Boston",        "New York", "Los Angeles", "Phoenix",
    "Dallas",  "Miami",    "Philadelphia",  "Detroit",  "Nashville",   "Salt Lake City",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum status { ST_PLACED, ST_SHIPPED, ST_DELIVERED, ST_CANCELLED, ST_RETURNED, N_STATUS };
static const char *const status_names[N_STATUS] = {"placed", "shipped", "delivered", "cancelled",
                                                   "returned"};

/* Weights of the distributions the orders are drawn from. */
static const unsigned first_status_weights[N_STATUS] = {40, 33, 19, 8, 0};
static const unsigned lines_per_order_weights[MAX_LINES_PER_ORDER] = {40, 25, 17, 11, 7};
static const unsigned quantity_weights[5] = {60, 22, 10, 5, 3};
static const unsigned hour_weights[24] = {2,  1,  1,  1,  1,  2,  4,  6,  8,  10, 12, 14,
                                          15, 13, 12, 12, 13, 15, 17, 18, 16, 12, 7,  4};
/* Sunday first: weekends sell more. */
static const unsigned weekday_weights[7] = {1200, 900, 920, 950, 1000, 1100, 1300};
static const unsigned discount_percents[] = {10, 15, 20, 25, 30};

/* --- deterministic random numbers ----------------------------------------- */

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64 as its
 * authors recommend. Streams separate the independent uses of one seed. */
struct rng {
    uint64_t s[4];
};

enum { STREAM_REFERENCE = 1, STREAM_ORDERS = 2, STREAM_POS = 3, STREAM_CUSTOMER = 1000 };

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) for n < 2^32 (Lemire's multiply-shift, bias < 2^-32). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static bool rng_chance(struct rng *r, uint32_t per_million)
{
    return rng_below(r, 1000000) < per_million;
}

/* Index drawn with the given integer weights (not all zero). */
static unsigned rng_pick(struct rng *r, const unsigned *weights, unsigned n)
{
    uint32_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += weights[i];
    uint32_t x = rng_below(r, total);
    for (unsigned i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    SM_BUG("rng_pick: weights do not add up");
}

/* --- dates and fast formatting --------------------------------------------- */

static char *put_u64(char *p, uint64_t v)
{
    char t[20];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = t[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

static char *put_2d(char *p, unsigned v)
{
    *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* "YYYY-MM-DD HH:MM:SS" from a date string and seconds into the day. */
static char *put_ts(char *p, const char *date, unsigned sec)
{
    memcpy(p, date, 10);
    p += 10;
    *p++ = ' ';
    p = put_2d(p, sec / 3600);
    *p++ = ':';
    p = put_2d(p, sec / 60 % 60);
    *p++ = ':';
    return put_2d(p, sec % 60);
}

/* Non-negative cents as "12.34". */
static char *put_money(char *p, int64_t cents)
{
    p = put_u64(p, (uint64_t)(cents / 100));
    *p++ = '.';
    return put_2d(p, (unsigned)(cents % 100));
}

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms,
 * exact for the proleptic Gregorian calendar). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DD" and a NUL into out (11 bytes). */
static void format_date(int64_t z, char *out)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    /* Years 1000..9999 only: smelt's dates are 2022..2036. */
    out = put_2d(put_2d(out, (unsigned)(y / 100)), (unsigned)(y % 100));
    *out++ = '-';
    out = put_2d(out, m);
    *out++ = '-';
    out = put_2d(out, d);
    *out = 0;
}

/* 0 = Sunday. */
static unsigned weekday(int64_t z)
{
    return (unsigned)((z % 7 + 11) % 7);
}

/* --- streaming atomic output file, optionally gzip ------------------------ */

/* Text goes to `pending`; every 256 KiB it is written (or deflated and
 * written) to a temporary file that out_commit() renames into place. */
struct out {
    char *path, *tmp;
    int fd;
    bool gzip;
    z_stream zs;
    struct sm_buf pending;
    uint64_t written; /* bytes in the file so far */
};

enum { OUT_FLUSH_AT = 256 * 1024 };

static int out_open(struct out *o, const char *path, bool gzip, struct sm_err *err)
{
    memset(o, 0, sizeof(*o));
    o->fd = -1;
    o->pending = (struct sm_buf)SM_BUF_INIT;
    o->path = sm_strdup(path);
    o->tmp = sm_asprintf("%s.tmp-%d", path, (int)getpid());
    if (gzip) {
        /* Level 1: several times faster than the default for about a
         * third more bytes; 15 + 16 asks zlib for a gzip wrapper with
         * mtime 0, so the bytes depend only on the data. */
        if (deflateInit2(&o->zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return sm_err_set(err, SM_EINTERNAL, "cannot start gzip for '%s'", path);
        o->gzip = true;
    }
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0)
        return sm_err_set(err, SM_EIO, "cannot create '%s': %s", o->tmp, strerror(errno));
    return 0;
}

static int out_write_raw(struct out *o, const void *data, size_t len, struct sm_err *err)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(o->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return sm_err_set(err, SM_EIO, "cannot write '%s': %s", o->path, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
        o->written += (uint64_t)n;
    }
    return 0;
}

/* Write out what is pending; with finish, end the gzip stream too. */
static int out_drain(struct out *o, bool finish, struct sm_err *err)
{
    if (!o->gzip) {
        int rc = out_write_raw(o, o->pending.buf, o->pending.len, err);
        sm_buf_reset(&o->pending);
        return rc;
    }
    unsigned char chunk[64 * 1024];
    o->zs.next_in = (unsigned char *)o->pending.buf;
    o->zs.avail_in = (uInt)o->pending.len;
    for (;;) {
        o->zs.next_out = chunk;
        o->zs.avail_out = sizeof(chunk);
        int zrc = deflate(&o->zs, finish ? Z_FINISH : Z_NO_FLUSH);
        if (zrc == Z_STREAM_ERROR)
            return sm_err_set(err, SM_EINTERNAL, "gzip failed for '%s'", o->path);
        SM_TRY(out_write_raw(o, chunk, sizeof(chunk) - o->zs.avail_out, err));
        if (finish ? zrc == Z_STREAM_END : o->zs.avail_in == 0 && o->zs.avail_out != 0)
            break;
    }
    sm_buf_reset(&o->pending);
    return 0;
}

static int out_add(struct out *o, const void *data, size_t len, struct sm_err *err)
{
    (void)sm_buf_add(&o->pending, data, len);
    return o->pending.len >= OUT_FLUSH_AT ? out_drain(o, false, err) : 0;
}

static void out_release(struct out *o)
{
    if (o->fd >= 0) {
        close(o->fd);
        unlink(o->tmp);
    }
    if (o->gzip)
        deflateEnd(&o->zs);
    sm_buf_release(&o->pending);
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof(*o));
    o->fd = -1;
}

/* Finish the file and rename it into place. keep_percent < 100 cuts the file
 * to that share of its bytes first (the deliberately truncated day). Releases
 * o either way. */
static int out_commit(struct out *o, unsigned keep_percent, struct sm_err *err)
{
    int rc = out_drain(o, true, err);
    if (!rc && keep_percent < 100 && ftruncate(o->fd, (off_t)(o->written * keep_percent / 100)))
        rc = sm_err_set(err, SM_EIO, "cannot truncate '%s': %s", o->path, strerror(errno));
    if (!rc && fsync(o->fd))
        rc = sm_err_set(err, SM_EIO, "cannot sync '%s': %s", o->path, strerror(errno));
    if (!rc) {
        int fd = o->fd;
        o->fd = -1;
        if (close(fd))
            rc = sm_err_set(err, SM_EIO, "cannot close '%s': %s", o->path, strerror(errno));
        else if (rename(o->tmp, o->path))
            rc = sm_err_set(err, SM_EIO, "cannot rename '%s': %s", o->tmp, strerror(errno));
        if (rc)
            unlink(o->tmp);
    }
    out_release(o);
    return rc;
}

/* --- the generator --------------------------------------------------------- */

struct init_opts {
    const char *name; /* as given */
    int64_t rows, days, seed;
    bool force;
};

/* One version of one order line as written to the feed. */
struct oline {
    int64_t order_id, customer_id; /* customer_id 0: missing */
    int64_t cents;
    int day, sec;         /* order_ts: day index and second of the day */
    int upd_day, upd_sec; /* updated_at */
    int line_no, status, store_id, product_id, quantity;
};

enum malform { MAL_NONE, MAL_SHORT, MAL_LONG, MAL_NUMBER, MAL_DATE, N_MALFORM };

/* An order that will be sent again, with a newer status, on a later day. */
struct resend {
    int64_t order_id, customer_id;
    int day, sec, upd_day, upd_sec;
    int status, store_id, nlines;
    struct {
        int product_id, quantity;
        int64_t cents;
    } line[MAX_LINES_PER_ORDER];
};

/* A duplicate waiting to be written a few lines after its original. */
struct dup {
    char text[192];
    size_t len;
    int countdown;
};
enum { MAX_PENDING_DUPS = 16 };

struct stats {
    int64_t orders, lines, written, duplicates, resent_orders, resent_lines;
    int64_t missing_customer, negative_quantity, malformed[N_MALFORM];
    int64_t customers, customer_updates;
    int64_t pos_orders, pos_lines;
};

struct gen {
    struct rng rng;
    int days;
    uint64_t seed;
    int64_t customers, loyal_customers, next_order_id;
    int64_t start;     /* days since the epoch of day 0 */
    char (*dates)[11]; /* "YYYY-MM-DD" of each day index */
    int64_t *quota;    /* order lines per day */
    int truncated_day;
    int64_t truncated_day_lines; /* written to the cut file */

    int64_t product_cents[N_PRODUCTS + 1];
    uint32_t product_cum[N_PRODUCTS]; /* running sum of popularity, by product_id - 1 */

    struct resend *resends;
    size_t nresends, resends_alloc;

    struct dup dups[MAX_PENDING_DUPS];
    int ndups;

    /* one day's orders, reused */
    int *order_secs;
    unsigned char *order_lines;
    size_t day_alloc, secs_alloc;

    struct stats st;
};

/* Price of each product: its category's range, ending in .49 or .99. Also
 * draws the popularity weights: a random permutation of a Zipf-like curve,
 * so a few products sell far more than most. */
static void gen_products(struct gen *g, struct rng *r)
{
    for (int id = 1; id <= N_PRODUCTS; id++) {
        int c = (id - 1) % N_CATEGORIES;
        int span = categories[c].max_cents - categories[c].min_cents;
        int64_t cents = categories[c].min_cents + (int)rng_below(r, (uint32_t)span);
        cents = cents / 100 * 100 + (rng_below(r, 2) ? 99 : 49);
        g->product_cents[id] = cents;
    }
    int perm[N_PRODUCTS];
    for (int i = 0; i < N_PRODUCTS; i++)
        perm[i] = i;
    for (int i = N_PRODUCTS - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint32_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    uint32_t weight[N_PRODUCTS], sum = 0;
    for (int rank = 0; rank < N_PRODUCTS; rank++)
        weight[perm[rank]] = 1000000u / (uint32_t)(rank + 5);
    for (int i = 0; i < N_PRODUCTS; i++)
        g->product_cum[i] = sum += weight[i];
}

static void product_name(int id, char *out, size_t n)
{
    int c = (id - 1) % N_CATEGORIES;
    int k = (id - 1) / N_CATEGORIES; /* index within the category */
    snprintf(out, n, "%s %s", categories[c].adj[k / N_NOUN % N_ADJ],
             categories[c].noun[k % N_NOUN]);
}

static int write_products(struct gen *g, const char *root, struct sm_err *err)
{
    struct sm_buf b = SM_BUF_INIT;
    sm_buf_adds(&b, "product_id,name,category,list_price\n");
    for (int id = 1; id <= N_PRODUCTS; id++) {
        char name[96], price[32];
        product_name(id, name, sizeof(name));
        *put_money(price, g->product_cents[id]) = 0;
        sm_buf_addf(&b, "%d,%s,%s,%s\n", id, name, categories[(id - 1) % N_CATEGORIES].name, price);
    }
    char *path = sm_path_join(root, "incoming/products/products.csv");
    int rc = sm_write_file_atomic(path, b.buf, b.len, err);
    free(path);
    sm_buf_release(&b);
    return rc;
}

static int write_stores(const char *root, struct sm_err *err)
{
    struct sm_buf b = SM_BUF_INIT;
    sm_buf_adds(&b, "store_id,name,city,region\n");
    for (int i = 0; i < N_STORES; i++)
        sm_buf_addf(&b, "%d,%s,%s,%s\n", i + 1, stores[i].name, stores[i].city, stores[i].region);
    char *path = sm_path_join(root, "incoming/stores/stores.csv");
    int rc = sm_write_file_atomic(path, b.buf, b.len, err);
    free(path);
    sm_buf_release(&b);
    return rc;
}

/* One customer record; with updated, the later record of a customer whose
 * e-mail changed during the order period. Every customer has its own
 * generator, so both records come out of the same draws. Returns whether
 * this customer gets an update. */
static bool customer_record(const struct gen *g, int64_t id, bool updated, struct sm_buf *b)
{
    struct rng r;
    rng_seed(&r, g->seed, STREAM_CUSTOMER + (uint64_t)id);
    const struct person_name *first = &first_names[rng_below(&r, ARRAY_SIZE(first_names))];
    const struct person_name *last = &last_names[rng_below(&r, ARRAY_SIZE(last_names))];
    const char *city = customer_cities[rng_below(&r, ARRAY_SIZE(customer_cities))];
    int64_t signup = days_from_civil(2022, 1, 1) + rng_below(&r, 4 * 365 + 1);
    unsigned signup_sec = rng_below(&r, 86400);
    bool has_update = rng_chance(&r, RATE_CUSTOMER_UPDATE);
    int64_t upd_day = g->start + rng_below(&r, (uint32_t)g->days);
    unsigned upd_sec = rng_below(&r, 86400);

    char signup_date[11], upd_date[11], ts[32];
    format_date(signup, signup_date);
    if (updated) {
        format_date(upd_day, upd_date);
        *put_ts(ts, upd_date, upd_sec) = 0;
    } else {
        *put_ts(ts, signup_date, signup_sec) = 0;
    }
    char name[96], email[128];
    snprintf(name, sizeof(name), "%s %s", first->text, last->text);
    if (updated)
        snprintf(email, sizeof(email), "%s.%s.%lld@example.org", first->ascii, last->ascii,
                 (long long)id);
    else
        snprintf(email, sizeof(email), "%s.%s%lld@example.com", first->ascii, last->ascii,
                 (long long)id);
    sm_buf_addf(b, "{\"customer_id\":%lld,\"name\":", (long long)id);
    sm_buf_add_json_str(b, name);
    sm_buf_adds(b, ",\"email\":");
    sm_buf_add_json_str(b, email);
    sm_buf_adds(b, ",\"city\":");
    sm_buf_add_json_str(b, city);
    sm_buf_addf(b, ",\"signup_date\":\"%s\",\"updated_at\":\"%s\"}\n", signup_date, ts);
    return has_update;
}

/* All customers in id order, then the updated records, again in id order. */
static int write_customers(struct gen *g, const char *root, struct sm_err *err)
{
    char *path = sm_path_join(root, "incoming/customers/customers.ndjson");
    struct out o;
    int rc = out_open(&o, path, false, err);
    struct sm_buf scratch = SM_BUF_INIT;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (int64_t id = 1; id <= g->customers && !rc; id++) {
            sm_buf_reset(&scratch);
            bool has_update = customer_record(g, id, pass == 1, &scratch);
            if (pass == 1 && !has_update)
                continue;
            g->st.customer_updates += pass;
            rc = out_add(&o, scratch.buf, scratch.len, err);
        }
    }
    g->st.customers = g->customers;
    if (!rc)
        rc = out_commit(&o, 100, err);
    out_release(&o);
    sm_buf_release(&scratch);
    free(path);
    return rc;
}

/* Format one line of the order feed into p (>= 192 bytes); returns its length. */
static size_t format_line(const struct gen *g, const struct oline *l, enum malform m, char *p)
{
    char *s = p;
    p = put_i64(p, l->order_id);
    *p++ = ',';
    p = put_i64(p, l->line_no);
    *p++ = ',';
    p = m == MAL_DATE ? put_str(p, "2026-13-45 25:00:00")
                      : put_ts(p, g->dates[l->day], (unsigned)l->sec);
    *p++ = ',';
    p = put_ts(p, g->dates[l->upd_day], (unsigned)l->upd_sec);
    *p++ = ',';
    p = put_str(p, status_names[l->status]);
    *p++ = ',';
    if (l->customer_id)
        p = put_i64(p, l->customer_id);
    *p++ = ',';
    p = put_i64(p, l->store_id);
    *p++ = ',';
    p = put_i64(p, l->product_id);
    *p++ = ',';
    p = m == MAL_NUMBER ? put_str(p, "abc") : put_i64(p, l->quantity);
    if (m != MAL_SHORT) {
        *p++ = ',';
        p = put_money(p, l->cents);
    }
    if (m == MAL_LONG)
        p = put_str(p, ",gift");
    *p++ = '\n';
    return (size_t)(p - s);
}

static int flush_dups(struct gen *g, struct out *o, bool all, struct sm_err *err)
{
    int kept = 0;
    for (int i = 0; i < g->ndups; i++) {
        struct dup *d = &g->dups[i];
        if (all || --d->countdown <= 0) {
            SM_TRY(out_add(o, d->text, d->len, err));
            g->st.written++;
        } else {
            g->dups[kept++] = *d;
        }
    }
    g->ndups = kept;
    return 0;
}

/* Write one line; a clean line is sometimes written a second time a few
 * lines later (an exact duplicate). */
static int emit_line(struct gen *g, struct out *o, const struct oline *l, enum malform m,
                     struct sm_err *err)
{
    char text[192];
    size_t len = format_line(g, l, m, text);
    SM_TRY(flush_dups(g, o, false, err));
    SM_TRY(out_add(o, text, len, err));
    g->st.written++;
    if (m == MAL_NONE && rng_chance(&g->rng, RATE_DUPLICATE_LINE)) {
        g->st.duplicates++;
        if (g->ndups == MAX_PENDING_DUPS) {
            SM_TRY(out_add(o, text, len, err));
            g->st.written++;
        } else {
            struct dup *d = &g->dups[g->ndups++];
            memcpy(d->text, text, len);
            d->len = len;
            d->countdown = 1 + (int)rng_below(&g->rng, 20);
        }
    }
    return 0;
}

static int write_resend(struct gen *g, struct out *o, const struct resend *rs, struct sm_err *err)
{
    struct oline l = {.order_id = rs->order_id,
                      .customer_id = rs->customer_id,
                      .day = rs->day,
                      .sec = rs->sec,
                      .upd_day = rs->upd_day,
                      .upd_sec = rs->upd_sec,
                      .status = rs->status,
                      .store_id = rs->store_id};
    for (int i = 0; i < rs->nlines; i++) {
        l.line_no = i + 1;
        l.product_id = rs->line[i].product_id;
        l.quantity = rs->line[i].quantity;
        l.cents = rs->line[i].cents;
        SM_TRY(emit_line(g, o, &l, MAL_NONE, err));
    }
    g->st.resent_orders++;
    g->st.resent_lines += rs->nlines;
    return 0;
}

/* The status an order moves on to when it is re-sent. */
static int next_status(struct rng *r, int status)
{
    static const unsigned from_placed[N_STATUS] = {0, 30, 45, 25, 0};
    static const unsigned from_shipped[N_STATUS] = {0, 0, 75, 0, 25};
    switch (status) {
    case ST_PLACED:
        return (int)rng_pick(r, from_placed, N_STATUS);
    case ST_SHIPPED:
        return (int)rng_pick(r, from_shipped, N_STATUS);
    default:
        return ST_RETURNED;
    }
}

/* Binary search in the running sums: the product lookup is in the hot loop. */
static int pick_product(struct gen *g)
{
    uint32_t x = rng_below(&g->rng, g->product_cum[N_PRODUCTS - 1]);
    int lo = 0, hi = N_PRODUCTS - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (x < g->product_cum[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo + 1;
}

static int64_t pick_customer(struct gen *g)
{
    if (rng_chance(&g->rng, RATE_LOYAL_CUSTOMER))
        return 1 + rng_below(&g->rng, (uint32_t)g->loyal_customers);
    return 1 + rng_below(&g->rng, (uint32_t)g->customers);
}

/* Generate and write one new order placed at second sec of day d. */
static int write_order(struct gen *g, struct out *o, int d, int sec, int nlines, struct sm_err *err)
{
    struct rng *r = &g->rng;
    struct oline l = {0};
    l.order_id = g->next_order_id++;
    l.day = l.upd_day = d;
    l.sec = sec;
    l.upd_sec = sec + (int)rng_below(r, (uint32_t)(86400 - sec));
    l.status = (int)rng_pick(r, first_status_weights, N_STATUS);
    l.customer_id = pick_customer(g);
    if (rng_chance(r, RATE_MISSING_CUSTOMER))
        l.customer_id = 0;
    l.store_id = 1 + (int)rng_pick(r, store_weights, N_STORES);
    struct resend rs = {.order_id = l.order_id,
                        .customer_id = l.customer_id,
                        .day = d,
                        .sec = sec,
                        .store_id = l.store_id,
                        .nlines = nlines};
    for (int i = 0; i < nlines; i++) {
        int product = 0;
        for (int tries = 0; tries < 4; tries++) { /* distinct products, mostly */
            product = pick_product(g);
            bool seen = false;
            for (int j = 0; j < i; j++)
                seen |= rs.line[j].product_id == product;
            if (!seen)
                break;
        }
        int64_t cents = g->product_cents[product];
        if (rng_chance(r, RATE_DISCOUNT_LINE)) {
            unsigned pct = discount_percents[rng_below(r, ARRAY_SIZE(discount_percents))];
            cents = (cents * (100 - pct) + 50) / 100;
        }
        l.line_no = i + 1;
        l.product_id = product;
        l.cents = cents;
        l.quantity = 1 + (int)rng_pick(r, quantity_weights, ARRAY_SIZE(quantity_weights));
        if (rng_chance(r, RATE_NEGATIVE_QUANTITY)) {
            l.quantity = -l.quantity;
            g->st.negative_quantity++;
        }
        enum malform m = MAL_NONE;
        if (rng_chance(r, RATE_MALFORMED_LINE)) {
            m = (enum malform)(1 + rng_below(r, N_MALFORM - 1));
            g->st.malformed[m]++;
        }
        if (!l.customer_id)
            g->st.missing_customer++;
        rs.line[i].product_id = product;
        rs.line[i].quantity = l.quantity;
        rs.line[i].cents = cents;
        g->st.lines++;
        SM_TRY(emit_line(g, o, &l, m, err));
    }
    g->st.orders++;

    if (l.status != ST_CANCELLED && d + 1 < g->days && rng_chance(r, RATE_RESEND_ORDER)) {
        int delay = 1 + (int)rng_below(r, MAX_RESEND_DELAY);
        rs.upd_day = d + delay < g->days ? d + delay : g->days - 1;
        rs.upd_sec = (int)rng_below(r, 86400);
        rs.status = next_status(r, l.status);
        SM_ALLOC_GROW(g->resends, g->nresends + 1, g->resends_alloc);
        g->resends[g->nresends++] = rs;
    }
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_resend(const void *a, const void *b)
{
    const struct resend *x = a, *y = b;
    if (x->upd_sec != y->upd_sec)
        return (x->upd_sec > y->upd_sec) - (x->upd_sec < y->upd_sec);
    return (x->order_id > y->order_id) - (x->order_id < y->order_id);
}

/* The body of day d's file: the day's new orders in order_ts order, with
 * the re-sends due that day merged in by their updated_at. */
static int write_day_lines(struct gen *g, struct out *o, int d, struct sm_err *err)
{
    struct rng *r = &g->rng;
    size_t norders = 0;
    for (int64_t left = g->quota[d]; left > 0;) {
        int n = 1 + (int)rng_pick(r, lines_per_order_weights, MAX_LINES_PER_ORDER);
        if (n > left)
            n = (int)left;
        SM_ALLOC_GROW(g->order_lines, norders + 1, g->day_alloc);
        g->order_lines[norders++] = (unsigned char)n;
        left -= n;
    }
    SM_ALLOC_GROW(g->order_secs, norders + 1, g->secs_alloc);
    for (size_t i = 0; i < norders; i++) {
        unsigned hour = rng_pick(r, hour_weights, 24);
        g->order_secs[i] = (int)(hour * 3600 + rng_below(r, 3600));
    }
    qsort(g->order_secs, norders, sizeof(int), cmp_int);

    /* Re-sends due today move to the front, sorted; the rest stay. */
    size_t due = 0;
    for (size_t i = 0; i < g->nresends; i++) {
        if (g->resends[i].upd_day == d) {
            struct resend t = g->resends[due];
            g->resends[due++] = g->resends[i];
            g->resends[i] = t;
        }
    }
    if (due)
        qsort(g->resends, due, sizeof(*g->resends), cmp_resend);

    size_t next_resend = 0;
    for (size_t i = 0; i < norders; i++) {
        while (next_resend < due && g->resends[next_resend].upd_sec <= g->order_secs[i])
            SM_TRY(write_resend(g, o, &g->resends[next_resend++], err));
        SM_TRY(write_order(g, o, d, g->order_secs[i], g->order_lines[i], err));
    }
    while (next_resend < due)
        SM_TRY(write_resend(g, o, &g->resends[next_resend++], err));
    /* Drop the sent ones; write_order() may have appended new ones. */
    if (due) {
        memmove(g->resends, g->resends + due, (g->nresends - due) * sizeof(*g->resends));
        g->nresends -= due;
    }
    return flush_dups(g, o, true, err);
}

static const char orders_header[] =
    "order_id,line_no,order_ts,updated_at,status,customer_id,store_id,product_id,quantity,"
    "unit_price\n";

static int write_orders(struct gen *g, const char *root, struct sm_err *err)
{
    int rc = 0;
    for (int d = 0; d < g->days && !rc; d++) {
        char *rel = sm_asprintf("incoming/orders/orders_%s.csv.gz", g->dates[d]);
        char *path = sm_path_join(root, rel);
        struct out o;
        int64_t before = g->st.written;
        rc = out_open(&o, path, true, err);
        if (!rc)
            rc = out_add(&o, orders_header, sizeof(orders_header) - 1, err);
        if (!rc)
            rc = write_day_lines(g, &o, d, err);
        if (!rc) {
            bool cut = d == g->truncated_day;
            if (cut)
                g->truncated_day_lines = g->st.written - before;
            rc = out_commit(&o, cut ? TRUNCATE_PERCENT : 100, err);
        }
        out_release(&o);
        free(path);
        free(rel);
    }
    return rc;
}

/* --- the point-of-sale feed: one zip of daily CSVs ------------------------- */

/* A zip archive built in memory: deflated members, fixed DOS times so the
 * bytes depend only on the data (no zip64: the feed stays far below 4 GiB). */
struct zip {
    struct sm_buf data, central;
    uint16_t n;
};

static void put_le(struct sm_buf *b, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        (void)sm_buf_addc(b, (char)(v >> (8 * i) & 0xff));
}

static int zip_add(struct zip *z, const char *name, const char *text, size_t len,
                   struct sm_err *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return sm_err_set(err, SM_EINTERNAL, "cannot start deflate for '%s'", name);
    uLong bound = deflateBound(&zs, (uLong)len);
    unsigned char *comp = sm_malloc(bound);
    zs.next_in = (unsigned char *)text;
    zs.avail_in = (uInt)len;
    zs.next_out = comp;
    zs.avail_out = (uInt)bound;
    int zr = deflate(&zs, Z_FINISH);
    size_t clen = bound - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        free(comp);
        return sm_err_set(err, SM_EINTERNAL, "deflate failed for '%s'", name);
    }
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)text, (uInt)len);
    uint32_t offset = (uint32_t)z->data.len;
    const uint16_t dos_time = 0, dos_date = (uint16_t)((START_YEAR - 1980) << 9 | 1 << 5 | 1);
    size_t nlen = strlen(name);
    struct sm_buf *b = &z->data;
    put_le(b, 0x04034b50, 4);
    put_le(b, 20, 2); /* version needed: 2.0 (deflate) */
    put_le(b, 0, 2);  /* flags */
    put_le(b, 8, 2);  /* deflate */
    put_le(b, dos_time, 2);
    put_le(b, dos_date, 2);
    put_le(b, crc, 4);
    put_le(b, (uint32_t)clen, 4);
    put_le(b, (uint32_t)len, 4);
    put_le(b, (uint32_t)nlen, 2);
    put_le(b, 0, 2);
    (void)sm_buf_add(b, name, nlen);
    (void)sm_buf_add(b, comp, clen);
    free(comp);
    b = &z->central;
    put_le(b, 0x02014b50, 4);
    put_le(b, 3 << 8 | 20, 2); /* made by: Unix, 2.0 */
    put_le(b, 20, 2);
    put_le(b, 0, 2);
    put_le(b, 8, 2);
    put_le(b, dos_time, 2);
    put_le(b, dos_date, 2);
    put_le(b, crc, 4);
    put_le(b, (uint32_t)clen, 4);
    put_le(b, (uint32_t)len, 4);
    put_le(b, (uint32_t)nlen, 2);
    put_le(b, 0, 2);                   /* extra */
    put_le(b, 0, 2);                   /* comment */
    put_le(b, 0, 2);                   /* disk */
    put_le(b, 0, 2);                   /* internal attributes */
    put_le(b, 0100644u << 16, 4);      /* external: a regular file, rw-r--r-- */
    put_le(b, offset, 4);
    (void)sm_buf_add(b, name, nlen);
    z->n++;
    return 0;
}

static int zip_write(struct zip *z, const char *path, struct sm_err *err)
{
    uint32_t cd_offset = (uint32_t)z->data.len, cd_size = (uint32_t)z->central.len;
    (void)sm_buf_add(&z->data, z->central.buf, z->central.len);
    put_le(&z->data, 0x06054b50, 4);
    put_le(&z->data, 0, 2);
    put_le(&z->data, 0, 2);
    put_le(&z->data, z->n, 2);
    put_le(&z->data, z->n, 2);
    put_le(&z->data, cd_size, 4);
    put_le(&z->data, cd_offset, 4);
    put_le(&z->data, 0, 2);
    return sm_write_file_atomic(path, z->data.buf, z->data.len, err);
}

/* In-store sales: a twentieth as many lines as the web shop, per day, as
 * one CSV per day in incoming/orders_pos/pos_<first>_<last>.zip. Order ids
 * start at POS_FIRST_ORDER_ID; three in ten come with a loyalty-card
 * customer id; every line is a completed ("delivered") sale at list price.
 * Its own generator stream, so the other feeds do not change with it. */
static int write_pos(struct gen *g, const char *root, struct sm_err *err)
{
    struct zip z = {SM_BUF_INIT, SM_BUF_INIT, 0};
    struct sm_buf csv = SM_BUF_INIT;
    int64_t order_id = POS_FIRST_ORDER_ID;
    int rc = 0;
    rng_seed(&g->rng, g->seed, STREAM_POS);
    for (int d = 0; d < g->days && !rc; d++) {
        sm_buf_reset(&csv);
        (void)sm_buf_adds(&csv, orders_header);
        int64_t want = g->quota[d] / 20 + 1;
        for (int64_t lines = 0; lines < want;) {
            struct oline l = {0};
            l.order_id = order_id++;
            l.day = l.upd_day = d;
            l.sec = l.upd_sec = 8 * 3600 + (int)rng_below(&g->rng, 13 * 3600);
            l.status = ST_DELIVERED;
            l.store_id = 1 + (int)rng_pick(&g->rng, store_weights, N_STORES);
            l.customer_id = rng_chance(&g->rng, 300000) ? pick_customer(g) : 0;
            int n = 1 + (int)rng_below(&g->rng, 3);
            for (int k = 0; k < n; k++, lines++) {
                l.line_no = k + 1;
                l.product_id = pick_product(g);
                l.quantity = 1 + (int)rng_below(&g->rng, 3);
                l.cents = g->product_cents[l.product_id];
                char text[192];
                (void)sm_buf_add(&csv, text, format_line(g, &l, MAL_NONE, text));
                g->st.pos_lines++;
            }
            g->st.pos_orders++;
        }
        char *name = sm_asprintf("pos_orders_%s.csv", g->dates[d]);
        rc = zip_add(&z, name, csv.buf, csv.len, err);
        free(name);
    }
    char *rel = sm_asprintf("incoming/orders_pos/pos_%s_%s.zip", g->dates[0], g->dates[g->days - 1]);
    char *path = sm_path_join(root, rel);
    if (!rc)
        rc = zip_write(&z, path, err);
    free(path);
    free(rel);
    sm_buf_release(&csv);
    sm_buf_release(&z.data);
    sm_buf_release(&z.central);
    return rc;
}

/* Split the order lines over the days: weekends sell more, every day a
 * little noise; the integer shares add up to exactly rows. */
static void plan_days(struct gen *g, int64_t rows)
{
    struct rng r;
    rng_seed(&r, g->seed, STREAM_REFERENCE + 100);
    uint64_t *w = sm_calloc((size_t)g->days, sizeof(*w));
    uint64_t total = 0;
    for (int d = 0; d < g->days; d++) {
        w[d] = weekday_weights[weekday(g->start + d)] * (950 + rng_below(&r, 101)) / 1000;
        total += w[d];
    }
    int64_t assigned = 0;
    for (int d = 0; d < g->days; d++) {
        g->quota[d] = (int64_t)((uint64_t)rows * w[d] / total);
        assigned += g->quota[d];
    }
    for (int d = 0; assigned < rows; d = (d + 1) % g->days, assigned++)
        g->quota[d]++;
    free(w);
}

static void gen_init(struct gen *g, const struct init_opts *opt)
{
    memset(g, 0, sizeof(*g));
    g->days = (int)opt->days;
    g->seed = (uint64_t)opt->seed;
    g->customers = opt->rows / ROWS_PER_CUSTOMER;
    if (g->customers < MIN_CUSTOMERS)
        g->customers = MIN_CUSTOMERS;
    g->loyal_customers = g->customers / 10;
    g->next_order_id = FIRST_ORDER_ID;
    g->start = days_from_civil(START_YEAR, 1, 1);
    g->truncated_day = (g->days >= TRUNCATED_DAY ? TRUNCATED_DAY : g->days) - 1;
    g->dates = sm_calloc((size_t)g->days, sizeof(*g->dates));
    for (int d = 0; d < g->days; d++)
        format_date(g->start + d, g->dates[d]);
    g->quota = sm_calloc((size_t)g->days, sizeof(*g->quota));
    plan_days(g, opt->rows);

    struct rng ref;
    rng_seed(&ref, g->seed, STREAM_REFERENCE);
    gen_products(g, &ref);
    rng_seed(&g->rng, g->seed, STREAM_ORDERS);
}

static void gen_release(struct gen *g)
{
    free(g->dates);
    free(g->quota);
    free(g->resends);
    free(g->order_secs);
    free(g->order_lines);
    memset(g, 0, sizeof(*g));
}

/* --- the project ----------------------------------------------------------- */

static int write_text(const char *root, const char *rel, const char *text, size_t len,
                      struct sm_err *err)
{
    char *path = sm_path_join(root, rel);
    int rc = sm_write_file_atomic(path, text, len, err);
    free(path);
    return rc;
}

/* The name in smelt.yml must be an identifier ([a-z_][a-z0-9_]*), while a
 * directory may be "My-Shop.2": lowercase it and map the rest to '_'. */
static char *identifier_of(const char *project)
{
    struct sm_buf b = SM_BUF_INIT;
    if (project[0] >= '0' && project[0] <= '9')
        (void)sm_buf_addc(&b, '_');
    for (const char *p = project; *p; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
        (void)sm_buf_addc(&b, (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_');
    }
    return sm_buf_detach(&b);
}

static int write_project(const char *root, const char *project, struct sm_err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(project_dirs); i++) {
        char *dir = sm_path_join(root, project_dirs[i]);
        int rc = sm_mkdirs(dir, err);
        free(dir);
        SM_TRY(rc);
    }
    struct sm_buf b = SM_BUF_INIT;
    char *ident = identifier_of(project);
    sm_buf_addf(&b,
                "name: %s\n"
                "lake: lake\n"
                "defaults:\n"
                "  memory_limit: 4GB\n"
                "  threads: 2\n",
                ident);
    free(ident);
    int rc = write_text(root, "smelt.yml", b.buf, b.len, err);
    sm_buf_reset(&b);
    sm_buf_addf(
        &b,
        "# %s\n"
        "\n"
        "An example smelt project: a retail shop's sales, generated by `smelt init`.\n"
        "\n"
        "- `incoming/` holds the raw feeds: order lines (one gzip CSV per day), customers\n"
        "  (JSON lines), products and stores (CSV). Like real feeds they carry duplicates,\n"
        "  late updates, missing and negative values, malformed lines and a truncated file.\n"
        "- `sources/` says how smelt reads each feed into the bronze zone.\n"
        "- `models/silver/` cleans and deduplicates; `models/gold/` builds daily sales,\n"
        "  customer lifetime value and product performance.\n"
        "\n"
        "    smelt run\n"
        "    smelt query \"SELECT * FROM gold.daily_sales ORDER BY day DESC LIMIT 7\"\n",
        project);
    if (!rc)
        rc = write_text(root, "README.md", b.buf, b.len, err);
    sm_buf_release(&b);
    for (size_t i = 0; i < ARRAY_SIZE(project_files) && !rc; i++)
        rc = write_text(root, project_files[i].path, project_files[i].text,
                        strlen(project_files[i].text), err);
    return rc;
}

/* With --force, order files of an earlier init (another --days, say) would
 * be mixed into the new data; remove them. Other files are overwritten or
 * left alone (lake/ and .smelt/ in particular). */
static int remove_stale(const char *root, const char *folder, const char *prefix,
                        const char *suffix, struct sm_err *err)
{
    char *dir = sm_path_join(root, folder);
    DIR *d = opendir(dir);
    int rc = 0;
    if (!d) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = sm_err_set(err, SM_EIO, "cannot open '%s': %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!sm_starts_with(e->d_name, prefix) || !sm_ends_with(e->d_name, suffix))
            continue;
        char *path = sm_path_join(dir, e->d_name);
        if (unlink(path) && errno != ENOENT)
            rc = sm_err_set(err, SM_EIO, "cannot remove '%s': %s", path, strerror(errno));
        free(path);
    }
    closedir(d);
    free(dir);
    return rc;
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}

/* The project's name is the last component of NAME: it goes into smelt.yml
 * unquoted, so it is kept to characters that need no YAML quoting. */
static bool valid_project_name(const char *s)
{
    if (!*s || *s == '.' || *s == '-' || *s == '_')
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* --- arguments and summary ------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg)
{
    struct sm_err err = SM_ERR_INIT;
    sm_err_set(&err, SM_EINVALID, fmt, arg);
    return cli_fail(&err);
}

static int parse_number(const char *opt, const char *val, int64_t min, int64_t max, int64_t *out)
{
    if (sm_parse_i64(val, out) || *out < min || *out > max) {
        struct sm_err err = SM_ERR_INIT;
        sm_err_set(&err, SM_EINVALID,
                   "invalid value '%s' for %s: expected an integer from %lld "
                   "to %lld",
                   val, opt, (long long)min, (long long)max);
        return cli_fail(&err);
    }
    return 0;
}

/* Returns 0, or the exit code after printing the error. */
static int parse_args(int argc, char **argv, struct init_opts *opt)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || !a[1]) {
            if (opt->name)
                return usage_error("unexpected argument '%s' (usage: " INIT_USAGE ")", a);
            opt->name = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            options_done = true;
            continue;
        }
        if (!strcmp(a, "--force")) {
            opt->force = true;
            continue;
        }
        const struct {
            const char *name;
            int64_t min, max;
            int64_t *out;
        } numeric[] = {
            {"--rows", 1, MAX_ROWS, &opt->rows},
            {"--days", 1, MAX_DAYS, &opt->days},
            {"--seed", INT64_MIN, INT64_MAX, &opt->seed},
        };
        size_t k = 0;
        const char *val = NULL;
        for (; k < ARRAY_SIZE(numeric); k++) {
            size_t n = strlen(numeric[k].name);
            if (!strncmp(a, numeric[k].name, n) && (a[n] == 0 || a[n] == '=')) {
                val = a[n] == '=' ? a + n + 1 : NULL;
                break;
            }
        }
        if (k == ARRAY_SIZE(numeric))
            return usage_error("unknown option '%s' (usage: " INIT_USAGE ")", a);
        if (!val) {
            if (i + 1 == argc)
                return usage_error("option '%s' needs a value", a);
            val = argv[++i];
        }
        SM_TRY(parse_number(numeric[k].name, val, numeric[k].min, numeric[k].max, numeric[k].out));
    }
    if (!opt->name || !*opt->name)
        return usage_error("%s", "missing project name (usage: " INIT_USAGE ")");
    return 0;
}

static void print_summary(const struct gen *g, const struct init_opts *opt, const char *shown)
{
    const struct stats *s = &g->st;
    printf("created project in '%s':\n", shown);
    printf("  smelt.yml, README.md, .gitignore\n");
    printf("  sources/{orders,orders_pos,customers,products,stores}.yml\n");
    printf("  models/silver/{orders,customers,customers_history,products,stores}.{sql,yml}\n");
    printf("  models/gold/{daily_sales,customer_lifetime_value,product_performance}.{sql,yml}\n");
    if (g->days == 1)
        printf("  incoming/orders/orders_%s.csv.gz (truncated)\n", g->dates[0]);
    else
        printf("  incoming/orders/orders_%s.csv.gz .. orders_%s.csv.gz (%d files; %s is "
               "truncated)\n",
               g->dates[0], g->dates[g->days - 1], g->days, g->dates[g->truncated_day]);
    printf("  incoming/orders_pos/pos_%s_%s.zip (%d daily CSVs, %lld in-store order lines in "
           "%lld orders)\n",
           g->dates[0], g->dates[g->days - 1], g->days, (long long)s->pos_lines,
           (long long)s->pos_orders);
    printf("  incoming/customers/customers.ndjson (%lld customers, %lld updated)\n",
           (long long)s->customers, (long long)s->customer_updates);
    printf("  incoming/products/products.csv (%d products)\n", N_PRODUCTS);
    printf("  incoming/stores/stores.csv (%d stores)\n", N_STORES);
    int64_t malformed = 0;
    for (int m = 1; m < N_MALFORM; m++)
        malformed += s->malformed[m];
    printf("%lld order lines in %lld orders over %d days from %s (seed %lld), %lld lines "
           "written\n",
           (long long)s->lines, (long long)s->orders, g->days, g->dates[0], (long long)opt->seed,
           (long long)s->written);
    printf("defects: %lld duplicate lines, %lld orders re-sent later (%lld lines), %lld lines "
           "without customer_id, %lld negative quantities, %lld malformed lines, 1 truncated "
           "file (%lld lines)\n",
           (long long)s->duplicates, (long long)s->resent_orders, (long long)s->resent_lines,
           (long long)s->missing_customer, (long long)s->negative_quantity, (long long)malformed,
           (long long)g->truncated_day_lines);
    printf("next: cd %s && smelt run\n", shown);
}

int cmd_init(int argc, char **argv, struct cli_ctx *ctx)
{
    if (cli_wants_help(argc, argv)) {
        const struct cli_command *cmd = cli_find("init");
        if (cmd)
            cli_usage(cmd, stdout);
        else
            printf("usage: %s\n", INIT_USAGE);
        return CLI_EXIT_OK;
    }
    struct init_opts opt = {.rows = DEFAULT_ROWS, .days = DEFAULT_DAYS, .seed = DEFAULT_SEED};
    int code = parse_args(argc, argv, &opt);
    if (code)
        return code;

    /* "shop/" names the project "shop". */
    char *name = sm_strdup(opt.name);
    for (size_t n = strlen(name); n > 1 && name[n - 1] == '/'; n--)
        name[n - 1] = 0;
    const char *slash = strrchr(name, '/');
    const char *project = slash ? slash + 1 : name;
    const char *dir = sm_or(ctx ? ctx->dir : NULL, ".");
    char *root = strcmp(dir, ".") ? sm_path_join(dir, name) : sm_strdup(name);
    struct sm_err err = SM_ERR_INIT;
    struct gen g;
    memset(&g, 0, sizeof(g));

    if (!valid_project_name(project)) {
        code = usage_error("invalid project name '%s': use letters, digits, '_', '-' and '.', "
                           "starting with a letter or digit",
                           project);
        goto out;
    }
    if (sm_path_exists(root) && !sm_is_dir(root)) {
        code = usage_error("'%s' exists and is not a directory", root);
        goto out;
    }
    if (sm_is_dir(root) && !dir_is_empty(root)) {
        if (!opt.force) {
            code = usage_error("'%s' already exists and is not empty (use --force to write "
                               "into it)",
                               root);
            goto out;
        }
        if (remove_stale(root, "incoming/orders", "orders_", ".csv.gz", &err) ||
            remove_stale(root, "incoming/orders_pos", "pos_", ".zip", &err)) {
            code = cli_fail(&err);
            goto out;
        }
    }

    gen_init(&g, &opt);
    if (sm_mkdirs(root, &err) || write_project(root, project, &err) || write_stores(root, &err) ||
        write_products(&g, root, &err) || write_customers(&g, root, &err) ||
        write_orders(&g, root, &err) || write_pos(&g, root, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    print_summary(&g, &opt, root);
    code = CLI_EXIT_OK;
out:
    gen_release(&g);
    free(root);
    free(name);
    return code;
}
