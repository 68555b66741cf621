-- The held-out rows of a model's data table: its split = 'validation' rows, which the training never
-- fits (models/lib: they only report val_loss). evaluate scores the champion and the challenger on
-- exactly these rows. Tables: {{data}}.
SELECT * FROM {{data}} WHERE split = 'validation'
