"""PostgreSQL: connection pool, migrations, repositories, and a private server for the embedded mode."""
