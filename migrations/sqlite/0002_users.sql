-- SPDX-License-Identifier: Apache-2.0
-- Accounts of the users service.  id is a sortable id (26 characters),
-- email is normalised (trimmed, lower-cased) before it is stored, so the
-- unique key also rejects the same address typed with other case.
-- created_at is UTC milliseconds since the epoch.
CREATE TABLE users (
    id CHAR(26) NOT NULL PRIMARY KEY,
    email VARCHAR(254) NOT NULL UNIQUE,
    full_name VARCHAR(200) NOT NULL,
    role VARCHAR(16) NOT NULL
        CHECK (role IN ('student', 'proctor', 'admin')),
    password_hash VARCHAR(128) NOT NULL,
    created_at BIGINT NOT NULL
);

-- Counting admins guards the last one against demotion.
CREATE INDEX users_role ON users (role);
