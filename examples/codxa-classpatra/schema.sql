-- The tables examples/codxa-classpatra/datamap.toml describes (SQLite and PostgreSQL).
CREATE TABLE members (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, nickname VARCHAR(100) NOT NULL, phone VARCHAR(20), address VARCHAR(255), created_at TIMESTAMP NOT NULL, last_login_at TIMESTAMP);
CREATE TABLE withdrawn_members (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id), email VARCHAR(255), name VARCHAR(100), phone VARCHAR(20), withdrawn_at TIMESTAMP NOT NULL);
CREATE TABLE identity_checks (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id), method VARCHAR(20) NOT NULL, at TIMESTAMP NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id), total INTEGER NOT NULL, address VARCHAR(255), created_at TIMESTAMP NOT NULL);
CREATE TABLE payments (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders (id), amount INTEGER NOT NULL, created_at TIMESTAMP NOT NULL);
CREATE TABLE access_logs (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id), ip VARCHAR(45) NOT NULL, at TIMESTAMP NOT NULL);
