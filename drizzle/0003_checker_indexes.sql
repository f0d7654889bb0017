DROP INDEX `outbox_provider_message`;--> statement-breakpoint
CREATE INDEX `outbox_provider_message` ON `outbox_jobs` (`provider_message_id`) WHERE "outbox_jobs"."provider_message_id" is not null;--> statement-breakpoint
DROP INDEX `receipts_due`;--> statement-breakpoint
CREATE INDEX `receipts_due` ON `receipts` (`priority`,`next_check_at`,`receipt_number`);