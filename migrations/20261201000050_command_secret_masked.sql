-- A staff mail is stored with its command secret masked; whether the secret
-- it carried was right is decided before masking and kept here.
ALTER TABLE messages ADD COLUMN secret_verified INTEGER NOT NULL DEFAULT 0;
