-- The tables examples/millie-library/datamap.toml describes (SQLite and PostgreSQL).
CREATE TABLE members (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, oauth_id VARCHAR(100) NOT NULL, phone VARCHAR(20), created_at TIMESTAMP NOT NULL);
CREATE TABLE payments (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id), amount INTEGER NOT NULL, created_at TIMESTAMP NOT NULL);
CREATE TABLE access_logs (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id), ip VARCHAR(45) NOT NULL, at TIMESTAMP NOT NULL);
