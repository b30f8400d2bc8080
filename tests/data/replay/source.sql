-- The Heroku side of the recorded sessions (record.sh).
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL,
                       plan text NOT NULL DEFAULT 'basic');
INSERT INTO accounts (id, email)
SELECT g, 'user' || g || '@example.test' FROM generate_series(1, 500) g;
CREATE TABLE orders (id bigserial PRIMARY KEY,
                     account_id bigint NOT NULL REFERENCES accounts (id),
                     total numeric(10, 2) NOT NULL);
INSERT INTO orders (account_id, total)
SELECT 1 + g % 500, g * 1.5 FROM generate_series(1, 1000) g;
CREATE INDEX orders_account_idx ON orders (account_id);
CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO settings
SELECT 'k' || g, 'v' || g FROM generate_series(1, 100) g;
