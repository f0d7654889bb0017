DROP INDEX `outbox_due`;--> statement-breakpoint
CREATE INDEX `outbox_due_by_channel` ON `outbox_jobs` (`state`,`channel`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `outbox_login_codes_due` ON `outbox_jobs` (`next_attempt_at`) WHERE state = 'pending' and purpose = 'login_code';