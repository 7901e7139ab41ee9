CREATE TABLE `buildsets` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`external_idstring` VARCHAR(256), 
	`reason` VARCHAR(256), 
	`submitted_at` INTEGER NOT NULL, 
	`complete` SMALLINT DEFAULT '0' NOT NULL, 
	`complete_at` INTEGER, 
	`results` SMALLINT, 
	`parent_buildid` INTEGER, 
	`parent_relationship` TEXT, 
	`rebuilt_buildid` INTEGER, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `buildsets_submitted_at` ON `buildsets` (`submitted_at`);
CREATE INDEX `buildsets_complete` ON `buildsets` (`complete`);
CREATE TABLE `changesources` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`name` TEXT NOT NULL, 
	`name_hash` VARCHAR(40) NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `changesource_name_hash` ON `changesources` (`name_hash`);
CREATE TABLE `workers` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`name` VARCHAR(50) NOT NULL, 
	`info` TEXT NOT NULL, 
	`paused` SMALLINT DEFAULT '0' NOT NULL, 
	`pause_reason` TEXT, 
	`graceful` SMALLINT DEFAULT '0' NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `workers_name` ON `workers` (`name`);
CREATE TABLE `patches` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`patchlevel` INTEGER NOT NULL, 
	`patch_base64` TEXT NOT NULL, 
	`patch_author` TEXT NOT NULL, 
	`patch_comment` TEXT NOT NULL, 
	`subdir` TEXT, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE `schedulers` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`name` TEXT NOT NULL, 
	`name_hash` VARCHAR(40) NOT NULL, 
	`enabled` SMALLINT DEFAULT '1', 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `scheduler_name_hash` ON `schedulers` (`name_hash`);
CREATE TABLE `projects` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`name` TEXT NOT NULL, 
	`name_hash` VARCHAR(40) NOT NULL, 
	`slug` VARCHAR(50) NOT NULL, 
	`description` TEXT, 
	`description_format` TEXT, 
	`description_html` TEXT, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `projects_name_hash` ON `projects` (`name_hash`);
CREATE TABLE `tags` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`name` TEXT NOT NULL, 
	`name_hash` VARCHAR(40) NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `tag_name_hash` ON `tags` (`name_hash`);
CREATE TABLE `objects` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`name` VARCHAR(128) NOT NULL, 
	`class_name` VARCHAR(128) NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `object_identity` ON `objects` (`name`, `class_name`);
CREATE TABLE `users` (
	`uid` INTEGER NOT NULL AUTO_INCREMENT, 
	`identifier` VARCHAR(255) NOT NULL, 
	`bb_username` VARCHAR(128), 
	`bb_password` VARCHAR(128), 
	PRIMARY KEY (`uid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `users_identifier` ON `users` (`identifier`);
CREATE UNIQUE INDEX `users_bb_user` ON `users` (`bb_username`);
CREATE TABLE `masters` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`name` TEXT NOT NULL, 
	`name_hash` VARCHAR(40) NOT NULL, 
	`active` INTEGER NOT NULL, 
	`last_active` INTEGER NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `master_name_hashes` ON `masters` (`name_hash`);
CREATE TABLE `buildset_properties` (
	`buildsetid` INTEGER NOT NULL, 
	`property_name` VARCHAR(256) NOT NULL, 
	`property_value` TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `buildset_properties_buildsetid` ON `buildset_properties` (`buildsetid`);
CREATE TABLE `changesource_masters` (
	`changesourceid` INTEGER NOT NULL, 
	`masterid` INTEGER NOT NULL, 
	PRIMARY KEY (`changesourceid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE `connected_workers` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`masterid` INTEGER NOT NULL, 
	`workerid` INTEGER NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `connected_workers_masterid` ON `connected_workers` (`masterid`);
CREATE UNIQUE INDEX `connected_workers_identity` ON `connected_workers` (`masterid`, `workerid`);
CREATE INDEX `connected_workers_workers` ON `connected_workers` (`workerid`);
CREATE TABLE `sourcestamps` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`ss_hash` VARCHAR(40) NOT NULL, 
	`branch` VARCHAR(256), 
	`revision` VARCHAR(256), 
	`patchid` INTEGER, 
	`repository` VARCHAR(512) DEFAULT '' NOT NULL, 
	`codebase` VARCHAR(256) DEFAULT '' NOT NULL, 
	`project` VARCHAR(512) DEFAULT '' NOT NULL, 
	`created_at` INTEGER NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `sourcestamps_ss_hash_key` ON `sourcestamps` (`ss_hash`);
CREATE TABLE `scheduler_masters` (
	`schedulerid` INTEGER NOT NULL, 
	`masterid` INTEGER NOT NULL, 
	PRIMARY KEY (`schedulerid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE `builders` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`name` TEXT NOT NULL, 
	`description` TEXT, 
	`description_format` TEXT, 
	`description_html` TEXT, 
	`projectid` INTEGER, 
	`name_hash` VARCHAR(40) NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `builders_projectid` ON `builders` (`projectid`);
CREATE UNIQUE INDEX `builder_name_hash` ON `builders` (`name_hash`);
CREATE TABLE `object_state` (
	`objectid` INTEGER NOT NULL, 
	`name` VARCHAR(255) NOT NULL, 
	`value_json` TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `name_per_object` ON `object_state` (`objectid`, `name`);
CREATE TABLE `users_info` (
	`uid` INTEGER NOT NULL, 
	`attr_type` VARCHAR(128) NOT NULL, 
	`attr_data` VARCHAR(128) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `users_info_uid` ON `users_info` (`uid`);
CREATE UNIQUE INDEX `users_info_uid_attr_type` ON `users_info` (`uid`, `attr_type`);
CREATE UNIQUE INDEX `users_info_attrs` ON `users_info` (`attr_type`, `attr_data`);
CREATE TABLE `buildrequests` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`buildsetid` INTEGER NOT NULL, 
	`builderid` INTEGER NOT NULL, 
	`priority` INTEGER DEFAULT '0' NOT NULL, 
	`complete` INTEGER DEFAULT '0', 
	`results` SMALLINT, 
	`submitted_at` INTEGER NOT NULL, 
	`complete_at` INTEGER, 
	`waited_for` SMALLINT DEFAULT '0', 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `buildrequests_builderid` ON `buildrequests` (`builderid`);
CREATE INDEX `buildrequests_complete` ON `buildrequests` (`complete`);
CREATE INDEX `buildrequests_buildsetid` ON `buildrequests` (`buildsetid`);
CREATE TABLE `builds` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`number` INTEGER NOT NULL, 
	`builderid` INTEGER NOT NULL, 
	`buildrequestid` INTEGER NOT NULL, 
	`workerid` INTEGER, 
	`masterid` INTEGER NOT NULL, 
	`started_at` INTEGER NOT NULL, 
	`complete_at` INTEGER, 
	`locks_duration_s` INTEGER NOT NULL, 
	`state_string` TEXT NOT NULL, 
	`results` INTEGER, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `builds_buildrequestid` ON `builds` (`buildrequestid`);
CREATE INDEX `builds_masterid` ON `builds` (`masterid`);
CREATE UNIQUE INDEX `builds_number` ON `builds` (`builderid`, `number`);
CREATE INDEX `builds_workerid` ON `builds` (`workerid`);
CREATE TABLE `changes` (
	`changeid` INTEGER NOT NULL AUTO_INCREMENT, 
	`author` VARCHAR(255) NOT NULL, 
	`committer` VARCHAR(255), 
	`comments` TEXT NOT NULL, 
	`branch` VARCHAR(255), 
	`revision` VARCHAR(255), 
	`revlink` VARCHAR(256), 
	`when_timestamp` INTEGER NOT NULL, 
	`category` VARCHAR(255), 
	`repository` VARCHAR(512) DEFAULT '' NOT NULL, 
	`codebase` VARCHAR(256) DEFAULT '' NOT NULL, 
	`project` VARCHAR(512) DEFAULT '' NOT NULL, 
	`sourcestampid` INTEGER NOT NULL, 
	`parent_changeids` INTEGER, 
	PRIMARY KEY (`changeid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `changes_revision` ON `changes` (`revision`);
CREATE INDEX `changes_author` ON `changes` (`author`);
CREATE INDEX `changes_category` ON `changes` (`category`);
CREATE INDEX `changes_when_timestamp` ON `changes` (`when_timestamp`);
CREATE INDEX `changes_sourcestampid` ON `changes` (`sourcestampid`);
CREATE INDEX `changes_branch` ON `changes` (`branch`);
CREATE TABLE `buildset_sourcestamps` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`buildsetid` INTEGER NOT NULL, 
	`sourcestampid` INTEGER NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `buildset_sourcestamps_buildsetid` ON `buildset_sourcestamps` (`buildsetid`);
CREATE UNIQUE INDEX `buildset_sourcestamps_unique` ON `buildset_sourcestamps` (`buildsetid`, `sourcestampid`);
CREATE TABLE `builder_masters` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`builderid` INTEGER NOT NULL, 
	`masterid` INTEGER NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `builder_masters_builderid` ON `builder_masters` (`builderid`);
CREATE UNIQUE INDEX `builder_masters_identity` ON `builder_masters` (`builderid`, `masterid`);
CREATE INDEX `builder_masters_masterid` ON `builder_masters` (`masterid`);
CREATE TABLE `builders_tags` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`builderid` INTEGER NOT NULL, 
	`tagid` INTEGER NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `builders_tags_builderid` ON `builders_tags` (`builderid`);
CREATE UNIQUE INDEX `builders_tags_unique` ON `builders_tags` (`builderid`, `tagid`);
CREATE TABLE `test_names` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`builderid` INTEGER NOT NULL, 
	`name` TEXT NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `test_names_name` ON `test_names` (`builderid`, `name`(255));
CREATE TABLE `test_code_paths` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`builderid` INTEGER NOT NULL, 
	`path` TEXT NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `test_code_paths_path` ON `test_code_paths` (`builderid`, `path`(255));
CREATE TABLE `buildrequest_claims` (
	`brid` INTEGER NOT NULL, 
	`masterid` INTEGER NOT NULL, 
	`claimed_at` INTEGER NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `ix_buildrequest_claims_masterid` ON `buildrequest_claims` (`masterid`);
CREATE UNIQUE INDEX `buildrequest_claims_brids` ON `buildrequest_claims` (`brid`);
CREATE TABLE `build_properties` (
	`buildid` INTEGER NOT NULL, 
	`name` VARCHAR(256) NOT NULL, 
	`value` TEXT NOT NULL, 
	`source` VARCHAR(256) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `build_properties_buildid` ON `build_properties` (`buildid`);
CREATE TABLE `build_data` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`buildid` INTEGER NOT NULL, 
	`name` VARCHAR(256) NOT NULL, 
	`value` LONGBLOB NOT NULL, 
	`length` INTEGER NOT NULL, 
	`source` VARCHAR(256) NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `build_data_buildid_name` ON `build_data` (`buildid`, `name`);
CREATE TABLE `steps` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`number` INTEGER NOT NULL, 
	`name` VARCHAR(50) NOT NULL, 
	`buildid` INTEGER NOT NULL, 
	`started_at` INTEGER, 
	`locks_acquired_at` INTEGER, 
	`complete_at` INTEGER, 
	`state_string` TEXT NOT NULL, 
	`results` INTEGER, 
	`urls_json` TEXT NOT NULL, 
	`hidden` SMALLINT DEFAULT '0' NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `steps_number` ON `steps` (`buildid`, `number`);
CREATE INDEX `steps_started_at` ON `steps` (`started_at`);
CREATE UNIQUE INDEX `steps_name` ON `steps` (`buildid`, `name`);
CREATE TABLE `configured_workers` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`buildermasterid` INTEGER NOT NULL, 
	`workerid` INTEGER NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `configured_workers_buildmasterid` ON `configured_workers` (`buildermasterid`);
CREATE UNIQUE INDEX `configured_workers_identity` ON `configured_workers` (`buildermasterid`, `workerid`);
CREATE INDEX `configured_workers_workers` ON `configured_workers` (`workerid`);
CREATE TABLE `change_files` (
	`changeid` INTEGER NOT NULL, 
	`filename` VARCHAR(1024) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `change_files_changeid` ON `change_files` (`changeid`);
CREATE TABLE `change_properties` (
	`changeid` INTEGER NOT NULL, 
	`property_name` VARCHAR(256) NOT NULL, 
	`property_value` TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `change_properties_changeid` ON `change_properties` (`changeid`);
CREATE TABLE `change_users` (
	`changeid` INTEGER NOT NULL, 
	`uid` INTEGER NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `change_users_changeid` ON `change_users` (`changeid`);
CREATE TABLE `scheduler_changes` (
	`schedulerid` INTEGER NOT NULL, 
	`changeid` INTEGER NOT NULL, 
	`important` INTEGER
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `scheduler_changes_unique` ON `scheduler_changes` (`schedulerid`, `changeid`);
CREATE INDEX `scheduler_changes_schedulerid` ON `scheduler_changes` (`schedulerid`);
CREATE INDEX `scheduler_changes_changeid` ON `scheduler_changes` (`changeid`);
CREATE TABLE `logs` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`name` TEXT NOT NULL, 
	`slug` VARCHAR(50) NOT NULL, 
	`stepid` INTEGER NOT NULL, 
	`complete` SMALLINT NOT NULL, 
	`num_lines` INTEGER NOT NULL, 
	`type` VARCHAR(1) NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX `logs_slug` ON `logs` (`stepid`, `slug`);
CREATE TABLE `test_result_sets` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`builderid` INTEGER NOT NULL, 
	`buildid` INTEGER NOT NULL, 
	`stepid` INTEGER NOT NULL, 
	`description` TEXT, 
	`category` TEXT NOT NULL, 
	`value_unit` TEXT NOT NULL, 
	`tests_passed` INTEGER, 
	`tests_failed` INTEGER, 
	`complete` SMALLINT NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE `logchunks` (
	`logid` INTEGER NOT NULL, 
	`first_line` INTEGER NOT NULL, 
	`last_line` INTEGER NOT NULL, 
	`content` MEDIUMBLOB, 
	`compressed` SMALLINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `logchunks_firstline` ON `logchunks` (`logid`, `first_line`);
CREATE INDEX `logchunks_lastline` ON `logchunks` (`logid`, `last_line`);
CREATE TABLE `test_results` (
	`id` INTEGER NOT NULL AUTO_INCREMENT, 
	`builderid` INTEGER NOT NULL, 
	`test_result_setid` INTEGER NOT NULL, 
	`test_nameid` INTEGER, 
	`test_code_pathid` INTEGER, 
	`line` INTEGER, 
	`duration_ns` INTEGER, 
	`value` TEXT NOT NULL, 
	PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE `alembic_version` (
	`version_num` VARCHAR(32) NOT NULL, 
	CONSTRAINT `alembic_version_pkc` PRIMARY KEY (`version_num`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
ALTER TABLE `buildsets` ADD CONSTRAINT `parent_buildid` FOREIGN KEY(`parent_buildid`) REFERENCES `builds` (`id`) ON DELETE SET NULL;
ALTER TABLE `buildsets` ADD CONSTRAINT `rebuilt_buildid` FOREIGN KEY(`rebuilt_buildid`) REFERENCES `builds` (`id`) ON DELETE SET NULL;
ALTER TABLE `buildset_properties` ADD CONSTRAINT `buildset_properties_ibfk_1` FOREIGN KEY(`buildsetid`) REFERENCES `buildsets` (`id`) ON DELETE CASCADE;
ALTER TABLE `changesource_masters` ADD CONSTRAINT `changesource_masters_ibfk_1` FOREIGN KEY(`changesourceid`) REFERENCES `changesources` (`id`) ON DELETE CASCADE;
ALTER TABLE `changesource_masters` ADD CONSTRAINT `changesource_masters_ibfk_2` FOREIGN KEY(`masterid`) REFERENCES `masters` (`id`) ON DELETE CASCADE;
ALTER TABLE `connected_workers` ADD CONSTRAINT `connected_workers_ibfk_1` FOREIGN KEY(`masterid`) REFERENCES `masters` (`id`) ON DELETE CASCADE;
ALTER TABLE `connected_workers` ADD CONSTRAINT `connected_workers_ibfk_2` FOREIGN KEY(`workerid`) REFERENCES `workers` (`id`) ON DELETE CASCADE;
ALTER TABLE `sourcestamps` ADD CONSTRAINT `sourcestamps_ibfk_1` FOREIGN KEY(`patchid`) REFERENCES `patches` (`id`) ON DELETE CASCADE;
ALTER TABLE `scheduler_masters` ADD CONSTRAINT `scheduler_masters_ibfk_1` FOREIGN KEY(`schedulerid`) REFERENCES `schedulers` (`id`) ON DELETE CASCADE;
ALTER TABLE `scheduler_masters` ADD CONSTRAINT `scheduler_masters_ibfk_2` FOREIGN KEY(`masterid`) REFERENCES `masters` (`id`) ON DELETE CASCADE;
ALTER TABLE `builders` ADD CONSTRAINT `fk_builders_projectid` FOREIGN KEY(`projectid`) REFERENCES `projects` (`id`) ON DELETE SET NULL;
ALTER TABLE `object_state` ADD CONSTRAINT `object_state_ibfk_1` FOREIGN KEY(`objectid`) REFERENCES `objects` (`id`) ON DELETE CASCADE;
ALTER TABLE `users_info` ADD CONSTRAINT `users_info_ibfk_1` FOREIGN KEY(`uid`) REFERENCES `users` (`uid`) ON DELETE CASCADE;
ALTER TABLE `buildrequests` ADD CONSTRAINT `buildrequests_ibfk_1` FOREIGN KEY(`buildsetid`) REFERENCES `buildsets` (`id`) ON DELETE CASCADE;
ALTER TABLE `buildrequests` ADD CONSTRAINT `buildrequests_ibfk_2` FOREIGN KEY(`builderid`) REFERENCES `builders` (`id`) ON DELETE CASCADE;
ALTER TABLE `builds` ADD CONSTRAINT `builds_ibfk_1` FOREIGN KEY(`builderid`) REFERENCES `builders` (`id`) ON DELETE CASCADE;
ALTER TABLE `builds` ADD CONSTRAINT `buildrequestid` FOREIGN KEY(`buildrequestid`) REFERENCES `buildrequests` (`id`) ON DELETE CASCADE;
ALTER TABLE `builds` ADD CONSTRAINT `builds_ibfk_3` FOREIGN KEY(`workerid`) REFERENCES `workers` (`id`) ON DELETE SET NULL;
ALTER TABLE `builds` ADD CONSTRAINT `builds_ibfk_4` FOREIGN KEY(`masterid`) REFERENCES `masters` (`id`) ON DELETE CASCADE;
ALTER TABLE `changes` ADD CONSTRAINT `changes_ibfk_1` FOREIGN KEY(`sourcestampid`) REFERENCES `sourcestamps` (`id`) ON DELETE CASCADE;
ALTER TABLE `changes` ADD CONSTRAINT `changes_ibfk_2` FOREIGN KEY(`parent_changeids`) REFERENCES `changes` (`changeid`) ON DELETE SET NULL;
ALTER TABLE `buildset_sourcestamps` ADD CONSTRAINT `buildset_sourcestamps_ibfk_1` FOREIGN KEY(`buildsetid`) REFERENCES `buildsets` (`id`) ON DELETE CASCADE;
ALTER TABLE `buildset_sourcestamps` ADD CONSTRAINT `buildset_sourcestamps_ibfk_2` FOREIGN KEY(`sourcestampid`) REFERENCES `sourcestamps` (`id`) ON DELETE CASCADE;
ALTER TABLE `builder_masters` ADD CONSTRAINT `builder_masters_ibfk_1` FOREIGN KEY(`builderid`) REFERENCES `builders` (`id`) ON DELETE CASCADE;
ALTER TABLE `builder_masters` ADD CONSTRAINT `builder_masters_ibfk_2` FOREIGN KEY(`masterid`) REFERENCES `masters` (`id`) ON DELETE CASCADE;
ALTER TABLE `builders_tags` ADD CONSTRAINT `builders_tags_ibfk_1` FOREIGN KEY(`builderid`) REFERENCES `builders` (`id`) ON DELETE CASCADE;
ALTER TABLE `builders_tags` ADD CONSTRAINT `builders_tags_ibfk_2` FOREIGN KEY(`tagid`) REFERENCES `tags` (`id`) ON DELETE CASCADE;
ALTER TABLE `test_names` ADD CONSTRAINT `test_names_ibfk_1` FOREIGN KEY(`builderid`) REFERENCES `builders` (`id`) ON DELETE CASCADE;
ALTER TABLE `test_code_paths` ADD CONSTRAINT `test_code_paths_ibfk_1` FOREIGN KEY(`builderid`) REFERENCES `builders` (`id`) ON DELETE CASCADE;
ALTER TABLE `buildrequest_claims` ADD CONSTRAINT `buildrequest_claims_ibfk_1` FOREIGN KEY(`brid`) REFERENCES `buildrequests` (`id`) ON DELETE CASCADE;
ALTER TABLE `buildrequest_claims` ADD CONSTRAINT `buildrequest_claims_ibfk_2` FOREIGN KEY(`masterid`) REFERENCES `masters` (`id`) ON DELETE CASCADE;
ALTER TABLE `build_properties` ADD CONSTRAINT `build_properties_ibfk_1` FOREIGN KEY(`buildid`) REFERENCES `builds` (`id`) ON DELETE CASCADE;
ALTER TABLE `build_data` ADD CONSTRAINT `build_data_ibfk_1` FOREIGN KEY(`buildid`) REFERENCES `builds` (`id`) ON DELETE CASCADE;
ALTER TABLE `steps` ADD CONSTRAINT `steps_ibfk_1` FOREIGN KEY(`buildid`) REFERENCES `builds` (`id`) ON DELETE CASCADE;
ALTER TABLE `configured_workers` ADD CONSTRAINT `configured_workers_ibfk_1` FOREIGN KEY(`buildermasterid`) REFERENCES `builder_masters` (`id`) ON DELETE CASCADE;
ALTER TABLE `configured_workers` ADD CONSTRAINT `configured_workers_ibfk_2` FOREIGN KEY(`workerid`) REFERENCES `workers` (`id`) ON DELETE CASCADE;
ALTER TABLE `change_files` ADD CONSTRAINT `change_files_ibfk_1` FOREIGN KEY(`changeid`) REFERENCES `changes` (`changeid`) ON DELETE CASCADE;
ALTER TABLE `change_properties` ADD CONSTRAINT `change_properties_ibfk_1` FOREIGN KEY(`changeid`) REFERENCES `changes` (`changeid`) ON DELETE CASCADE;
ALTER TABLE `change_users` ADD CONSTRAINT `change_users_ibfk_1` FOREIGN KEY(`changeid`) REFERENCES `changes` (`changeid`) ON DELETE CASCADE;
ALTER TABLE `change_users` ADD CONSTRAINT `change_users_ibfk_2` FOREIGN KEY(`uid`) REFERENCES `users` (`uid`) ON DELETE CASCADE;
ALTER TABLE `scheduler_changes` ADD CONSTRAINT `scheduler_changes_ibfk_1` FOREIGN KEY(`schedulerid`) REFERENCES `schedulers` (`id`) ON DELETE CASCADE;
ALTER TABLE `scheduler_changes` ADD CONSTRAINT `scheduler_changes_ibfk_2` FOREIGN KEY(`changeid`) REFERENCES `changes` (`changeid`) ON DELETE CASCADE;
ALTER TABLE `logs` ADD CONSTRAINT `logs_ibfk_1` FOREIGN KEY(`stepid`) REFERENCES `steps` (`id`) ON DELETE CASCADE;
ALTER TABLE `test_result_sets` ADD CONSTRAINT `test_result_sets_ibfk_1` FOREIGN KEY(`builderid`) REFERENCES `builders` (`id`) ON DELETE CASCADE;
ALTER TABLE `test_result_sets` ADD CONSTRAINT `test_result_sets_ibfk_2` FOREIGN KEY(`buildid`) REFERENCES `builds` (`id`) ON DELETE CASCADE;
ALTER TABLE `test_result_sets` ADD CONSTRAINT `test_result_sets_ibfk_3` FOREIGN KEY(`stepid`) REFERENCES `steps` (`id`) ON DELETE CASCADE;
ALTER TABLE `logchunks` ADD CONSTRAINT `logchunks_ibfk_1` FOREIGN KEY(`logid`) REFERENCES `logs` (`id`) ON DELETE CASCADE;
ALTER TABLE `test_results` ADD CONSTRAINT `test_results_ibfk_1` FOREIGN KEY(`builderid`) REFERENCES `builders` (`id`) ON DELETE CASCADE;
ALTER TABLE `test_results` ADD CONSTRAINT `test_results_ibfk_2` FOREIGN KEY(`test_result_setid`) REFERENCES `test_result_sets` (`id`) ON DELETE CASCADE;
ALTER TABLE `test_results` ADD CONSTRAINT `test_results_ibfk_3` FOREIGN KEY(`test_nameid`) REFERENCES `test_names` (`id`) ON DELETE CASCADE;
ALTER TABLE `test_results` ADD CONSTRAINT `test_results_ibfk_4` FOREIGN KEY(`test_code_pathid`) REFERENCES `test_code_paths` (`id`) ON DELETE CASCADE;
