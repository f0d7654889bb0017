ALTER TABLE `cases` ADD `client_id` integer;--> statement-breakpoint
UPDATE `cases` SET `client_id` = (SELECT `client_id` FROM `users` WHERE `users`.`id` = `cases`.`user_id`);--> statement-breakpoint
CREATE TRIGGER `cases_client_id` AFTER INSERT ON `cases` FOR EACH ROW WHEN NEW.`client_id` IS NULL
BEGIN
  UPDATE `cases` SET `client_id` = (SELECT `client_id` FROM `users` WHERE `users`.`id` = NEW.`user_id`)
  WHERE `id` = NEW.`id`;
END;--> statement-breakpoint
CREATE INDEX `cases_client` ON `cases` (`client_id`,`id`);--> statement-breakpoint
CREATE INDEX `cases_user` ON `cases` (`user_id`,`id`);
