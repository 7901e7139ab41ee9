CREATE TABLE `codebases` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`projectid` INTEGER NOT NULL, 
	`name` TEXT NOT NULL, 
	`name_hash` VARCHAR(40) NOT NULL, 
	`slug` VARCHAR(50) NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `codebases_projects_name_hash` ON `codebases` (`projectid`, `name_hash`);
CREATE TABLE `codebase_commits` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`codebaseid` INTEGER NOT NULL, 
	`author` VARCHAR(255) NOT NULL, 
	`committer` VARCHAR(255), 
	`comments` TEXT NOT NULL, 
	`when_timestamp` INTEGER NOT NULL, 
	`revision` VARCHAR(70) NOT NULL, 
	`parent_commitid` INTEGER, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `codebase_commits_unique` ON `codebase_commits` (`codebaseid`, `revision`);
CREATE TABLE `codebase_branches` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`codebaseid` INTEGER NOT NULL, 
	`name` VARCHAR(255) NOT NULL, 
	`name_hash` VARCHAR(40) NOT NULL, 
	`commitid` INTEGER, 
	`last_timestamp` INTEGER NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `codebase_branches_unique` ON `codebase_branches` (`codebaseid`, `name_hash`);
ALTER TABLE `codebases` ADD CONSTRAINT `codebases_ibfk_1` FOREIGN KEY(`projectid`) REFERENCES `projects` (`id`) ON DELETE CASCADE;
ALTER TABLE `codebase_commits` ADD CONSTRAINT `codebase_commits_ibfk_1` FOREIGN KEY(`codebaseid`) REFERENCES `codebases` (`id`) ON DELETE CASCADE;
ALTER TABLE `codebase_commits` ADD CONSTRAINT `codebase_commits_ibfk_2` FOREIGN KEY(`parent_commitid`) REFERENCES `codebase_commits` (`id`) ON DELETE SET NULL;
ALTER TABLE `codebase_branches` ADD CONSTRAINT `codebase_branches_ibfk_1` FOREIGN KEY(`codebaseid`) REFERENCES `codebases` (`id`) ON DELETE CASCADE;
ALTER TABLE `codebase_branches` ADD CONSTRAINT `codebase_branches_ibfk_2` FOREIGN KEY(`commitid`) REFERENCES `codebase_commits` (`id`) ON DELETE SET NULL;
