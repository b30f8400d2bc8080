-- The Aptible side, drifted on purpose (record.sh): no pgcrypto, no
-- orders_account_idx, the last 3 orders and their sequence values
-- missing, one account changed; settings identical.
CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL,
                       plan text NOT NULL DEFAULT 'basic');
INSERT INTO accounts (id, email)
SELECT g, 'user' || g || '@example.test' FROM generate_series(1, 500) g;
UPDATE accounts SET plan = 'pro' WHERE id = 42;
CREATE TABLE orders (id bigserial PRIMARY KEY,
                     account_id bigint NOT NULL REFERENCES accounts (id),
                     total numeric(10, 2) NOT NULL);
INSERT INTO orders (account_id, total)
SELECT 1 + g % 500, g * 1.5 FROM generate_series(1, 997) g;
CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO settings
SELECT 'k' || g, 'v' || g FROM generate_series(1, 100) g;
