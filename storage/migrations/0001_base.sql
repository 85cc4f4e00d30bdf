-- Base schema: what every capability relies on.
-- gen_random_uuid() is built into PostgreSQL since 13, so no extension is needed for it (pgcrypto is not
-- shipped by every embedded build); older servers are refused here with a clear message.
DO $$
BEGIN
    IF current_setting('server_version_num')::int < 130000 THEN
        RAISE EXCEPTION 'PostgreSQL 13 or newer is required, this is %', current_setting('server_version');
    END IF;
END
$$;
