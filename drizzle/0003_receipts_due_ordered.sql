DROP INDEX `receipts_due`;--> statement-breakpoint
CREATE INDEX `receipts_due` ON `receipts` (`priority`,`next_check_at`,`receipt_number`);