/* schema.h - the migrations compiled in from schema/NNN_*.sql.
 *
 * Generated at configure time (see CMakeLists.txt). Step i brings a database
 * from PRAGMA user_version i to i + 1; versions are 1-based and contiguous.
 */
#ifndef AB_SCHEMA_H
#define AB_SCHEMA_H

struct ab_schema_step {
    int version;      /* user_version after this step */
    const char *name; /* file name, for messages */
    const char *sql;
};

extern const struct ab_schema_step ab_schema_steps[];
extern const int ab_schema_count;

/* The same steps for PostgreSQL (schema/pg/NNN_*.sql, tracked in the table
 * authbatch_schema): ab_schema_pg_count == ab_schema_count. */
extern const struct ab_schema_step ab_schema_pg_steps[];
extern const int ab_schema_pg_count;

#endif
