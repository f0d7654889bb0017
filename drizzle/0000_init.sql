CREATE TABLE `cases` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`receipt_number` text NOT NULL,
	`user_case_id` text NOT NULL,
	`description` text,
	`active` integer DEFAULT true NOT NULL,
	`check_error` text,
	`last_status_update_id` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`receipt_number`) REFERENCES `receipts`(`receipt_number`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `cases_user_case_id_unique` ON `cases` (`user_case_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `cases_user_receipt` ON `cases` (`user_id`,`receipt_number`);--> statement-breakpoint
CREATE INDEX `cases_receipt` ON `cases` (`receipt_number`);--> statement-breakpoint
CREATE TABLE `check_cache` (
	`receipt_number` text PRIMARY KEY NOT NULL,
	`answer` text NOT NULL,
	`fetched_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `clients` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`contact_email` text NOT NULL,
	`logo_url` text,
	`api_key` text NOT NULL,
	`secret_hash` text NOT NULL,
	`disabled_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `clients_api_key_unique` ON `clients` (`api_key`);--> statement-breakpoint
CREATE TABLE `email_tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`token_hash` text NOT NULL,
	`email` text NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `email_tokens_token_hash_unique` ON `email_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `email_tokens_user` ON `email_tokens` (`user_id`);--> statement-breakpoint
CREATE TABLE `login_codes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`code_hash` text NOT NULL,
	`expires_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`used_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `login_codes_user` ON `login_codes` (`user_id`,`id`);--> statement-breakpoint
CREATE TABLE `outbox_jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel` text NOT NULL,
	`purpose` text NOT NULL,
	`idempotency_key` text NOT NULL,
	`user_id` integer,
	`status_update_id` integer,
	`webhook_id` integer,
	`event_id` text,
	`payload` text NOT NULL,
	`state` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_until` integer,
	`send_started_at` integer,
	`last_error` text,
	`provider_message_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`status_update_id`) REFERENCES `status_updates`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`webhook_id`) REFERENCES `webhooks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_jobs_idempotency_key_unique` ON `outbox_jobs` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `outbox_due` ON `outbox_jobs` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `outbox_user_channel` ON `outbox_jobs` (`user_id`,`channel`,`id`);--> statement-breakpoint
CREATE INDEX `outbox_provider_message` ON `outbox_jobs` (`provider_message_id`);--> statement-breakpoint
CREATE TABLE `receipts` (
	`receipt_number` text PRIMARY KEY NOT NULL,
	`form_type` text,
	`last_observation` text,
	`last_checked_at` integer,
	`last_attempt_at` integer,
	`next_check_at` integer NOT NULL,
	`priority` integer DEFAULT true NOT NULL,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`failing_since` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `receipts_due` ON `receipts` (`priority`,`next_check_at`);--> statement-breakpoint
CREATE TABLE `sessions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`token_hash` text NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`last_used_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sessions_token_hash_unique` ON `sessions` (`token_hash`);--> statement-breakpoint
CREATE INDEX `sessions_user` ON `sessions` (`user_id`);--> statement-breakpoint
CREATE TABLE `status_updates` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`case_id` integer NOT NULL,
	`kind` text NOT NULL,
	`category` text NOT NULL,
	`status_code` text NOT NULL,
	`status_description` text NOT NULL,
	`status_code_es` text,
	`status_description_es` text,
	`status_code_pt` text NOT NULL,
	`status_description_pt` text NOT NULL,
	`form_type` text,
	`detail_message` text NOT NULL,
	`submitted_date` integer,
	`modified_date` integer,
	`history` text NOT NULL,
	`timestamp` integer NOT NULL,
	`notified` integer DEFAULT 0 NOT NULL,
	`email_notify_status` text NOT NULL,
	`whatsapp_notify_status` text NOT NULL,
	`email_notify_attempts` integer DEFAULT 0 NOT NULL,
	`whatsapp_notify_attempts` integer DEFAULT 0 NOT NULL,
	`email_notify_last_error` text,
	`whatsapp_notify_last_error` text,
	`email_notify_sent_at` integer,
	`whatsapp_notify_sent_at` integer,
	FOREIGN KEY (`case_id`) REFERENCES `cases`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `status_updates_case` ON `status_updates` (`case_id`,`id`);--> statement-breakpoint
CREATE TABLE `usage_counters` (
	`source` text NOT NULL,
	`day` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`source`, `day`)
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`client_id` integer NOT NULL,
	`email` text NOT NULL,
	`name` text,
	`phone` text,
	`preferred_language` text DEFAULT 'en' NOT NULL,
	`email_verified_at` integer,
	`notify_by_email` integer DEFAULT true NOT NULL,
	`notify_by_whatsapp` integer DEFAULT false NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_client_email` ON `users` (`client_id`,`email`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`webhook_id` integer NOT NULL,
	`job_id` integer,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`attempt` integer NOT NULL,
	`outcome` text NOT NULL,
	`response_status` integer,
	`error` text,
	`response_excerpt` text,
	`duration_ms` integer,
	`attempted_at` integer NOT NULL,
	FOREIGN KEY (`webhook_id`) REFERENCES `webhooks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_webhook` ON `webhook_deliveries` (`webhook_id`,`id`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`client_id` integer NOT NULL,
	`url` text NOT NULL,
	`description` text,
	`events` text NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`secret` text NOT NULL,
	`last_delivery_at` integer,
	`last_delivery_status` text,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`disabled_reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhooks_client` ON `webhooks` (`client_id`);