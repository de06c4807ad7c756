-- Folder files (config.json, tokenizer files, a card, ...) are kept under their relative paths in
-- the folder, role 'file', after the artifact's other files; paths may be up to 500 characters.
alter table artifact_file alter column file_name type varchar(500);
