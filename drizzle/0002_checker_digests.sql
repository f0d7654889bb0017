ALTER TABLE `cases` ADD `observed_digest` text;--> statement-breakpoint
ALTER TABLE `receipts` ADD `observation_digest` text;--> statement-breakpoint
ALTER TABLE `receipts` DROP COLUMN `last_observation`;