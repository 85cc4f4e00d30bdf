-- Base schema: extensions and helpers shared by every capability.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
