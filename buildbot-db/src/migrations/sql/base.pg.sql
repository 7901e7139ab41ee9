CREATE TABLE "buildsets" (
	"id" BIGSERIAL NOT NULL, 
	"external_idstring" VARCHAR(256), 
	"reason" VARCHAR(256), 
	"submitted_at" BIGINT NOT NULL, 
	"complete" SMALLINT DEFAULT '0' NOT NULL, 
	"complete_at" BIGINT, 
	"results" SMALLINT, 
	"parent_buildid" BIGINT, 
	"parent_relationship" TEXT, 
	"rebuilt_buildid" BIGINT, 
	PRIMARY KEY ("id")
);
CREATE INDEX "buildsets_submitted_at" ON "buildsets" ("submitted_at");
CREATE INDEX "buildsets_complete" ON "buildsets" ("complete");
CREATE TABLE "changesources" (
	"id" BIGSERIAL NOT NULL, 
	"name" TEXT NOT NULL, 
	"name_hash" VARCHAR(40) NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "changesource_name_hash" ON "changesources" ("name_hash");
CREATE TABLE "workers" (
	"id" BIGSERIAL NOT NULL, 
	"name" VARCHAR(50) NOT NULL, 
	"info" TEXT NOT NULL, 
	"paused" SMALLINT DEFAULT '0' NOT NULL, 
	"pause_reason" TEXT, 
	"graceful" SMALLINT DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "workers_name" ON "workers" ("name");
CREATE TABLE "patches" (
	"id" BIGSERIAL NOT NULL, 
	"patchlevel" BIGINT NOT NULL, 
	"patch_base64" TEXT NOT NULL, 
	"patch_author" TEXT NOT NULL, 
	"patch_comment" TEXT NOT NULL, 
	"subdir" TEXT, 
	PRIMARY KEY ("id")
);
CREATE TABLE "schedulers" (
	"id" BIGSERIAL NOT NULL, 
	"name" TEXT NOT NULL, 
	"name_hash" VARCHAR(40) NOT NULL, 
	"enabled" SMALLINT DEFAULT '1', 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "scheduler_name_hash" ON "schedulers" ("name_hash");
CREATE TABLE "projects" (
	"id" BIGSERIAL NOT NULL, 
	"name" TEXT NOT NULL, 
	"name_hash" VARCHAR(40) NOT NULL, 
	"slug" VARCHAR(50) NOT NULL, 
	"description" TEXT, 
	"description_format" TEXT, 
	"description_html" TEXT, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "projects_name_hash" ON "projects" ("name_hash");
CREATE TABLE "tags" (
	"id" BIGSERIAL NOT NULL, 
	"name" TEXT NOT NULL, 
	"name_hash" VARCHAR(40) NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "tag_name_hash" ON "tags" ("name_hash");
CREATE TABLE "objects" (
	"id" BIGSERIAL NOT NULL, 
	"name" VARCHAR(128) NOT NULL, 
	"class_name" VARCHAR(128) NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "object_identity" ON "objects" ("name", "class_name");
CREATE TABLE "users" (
	"uid" BIGSERIAL NOT NULL, 
	"identifier" VARCHAR(255) NOT NULL, 
	"bb_username" VARCHAR(128), 
	"bb_password" VARCHAR(128), 
	PRIMARY KEY ("uid")
);
CREATE UNIQUE INDEX "users_identifier" ON "users" ("identifier");
CREATE UNIQUE INDEX "users_bb_user" ON "users" ("bb_username");
CREATE TABLE "masters" (
	"id" BIGSERIAL NOT NULL, 
	"name" TEXT NOT NULL, 
	"name_hash" VARCHAR(40) NOT NULL, 
	"active" INTEGER NOT NULL, 
	"last_active" BIGINT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "master_name_hashes" ON "masters" ("name_hash");
CREATE TABLE "buildset_properties" (
	"buildsetid" BIGINT NOT NULL, 
	"property_name" VARCHAR(256) NOT NULL, 
	"property_value" TEXT NOT NULL
);
CREATE INDEX "buildset_properties_buildsetid" ON "buildset_properties" ("buildsetid");
CREATE TABLE "changesource_masters" (
	"changesourceid" BIGINT NOT NULL, 
	"masterid" BIGINT NOT NULL, 
	PRIMARY KEY ("changesourceid")
);
CREATE TABLE "connected_workers" (
	"id" BIGSERIAL NOT NULL, 
	"masterid" BIGINT NOT NULL, 
	"workerid" BIGINT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE INDEX "connected_workers_masterid" ON "connected_workers" ("masterid");
CREATE UNIQUE INDEX "connected_workers_identity" ON "connected_workers" ("masterid", "workerid");
CREATE INDEX "connected_workers_workers" ON "connected_workers" ("workerid");
CREATE TABLE "sourcestamps" (
	"id" BIGSERIAL NOT NULL, 
	"ss_hash" VARCHAR(40) NOT NULL, 
	"branch" VARCHAR(256), 
	"revision" VARCHAR(256), 
	"patchid" BIGINT, 
	"repository" VARCHAR(512) DEFAULT '' NOT NULL, 
	"codebase" VARCHAR(256) DEFAULT '' NOT NULL, 
	"project" VARCHAR(512) DEFAULT '' NOT NULL, 
	"created_at" BIGINT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "sourcestamps_ss_hash_key" ON "sourcestamps" ("ss_hash");
CREATE TABLE "scheduler_masters" (
	"schedulerid" BIGINT NOT NULL, 
	"masterid" BIGINT NOT NULL, 
	PRIMARY KEY ("schedulerid")
);
CREATE TABLE "builders" (
	"id" BIGSERIAL NOT NULL, 
	"name" TEXT NOT NULL, 
	"description" TEXT, 
	"description_format" TEXT, 
	"description_html" TEXT, 
	"projectid" BIGINT, 
	"name_hash" VARCHAR(40) NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE INDEX "builders_projectid" ON "builders" ("projectid");
CREATE UNIQUE INDEX "builder_name_hash" ON "builders" ("name_hash");
CREATE TABLE "object_state" (
	"objectid" BIGINT NOT NULL, 
	"name" VARCHAR(255) NOT NULL, 
	"value_json" TEXT NOT NULL
);
CREATE UNIQUE INDEX "name_per_object" ON "object_state" ("objectid", "name");
CREATE TABLE "users_info" (
	"uid" BIGINT NOT NULL, 
	"attr_type" VARCHAR(128) NOT NULL, 
	"attr_data" VARCHAR(128) NOT NULL
);
CREATE INDEX "users_info_uid" ON "users_info" ("uid");
CREATE UNIQUE INDEX "users_info_uid_attr_type" ON "users_info" ("uid", "attr_type");
CREATE UNIQUE INDEX "users_info_attrs" ON "users_info" ("attr_type", "attr_data");
CREATE TABLE "buildrequests" (
	"id" BIGSERIAL NOT NULL, 
	"buildsetid" BIGINT NOT NULL, 
	"builderid" BIGINT NOT NULL, 
	"priority" BIGINT DEFAULT '0' NOT NULL, 
	"complete" INTEGER DEFAULT '0', 
	"results" SMALLINT, 
	"submitted_at" BIGINT NOT NULL, 
	"complete_at" BIGINT, 
	"waited_for" SMALLINT DEFAULT '0', 
	PRIMARY KEY ("id")
);
CREATE INDEX "buildrequests_builderid" ON "buildrequests" ("builderid");
CREATE INDEX "buildrequests_complete" ON "buildrequests" ("complete");
CREATE INDEX "buildrequests_buildsetid" ON "buildrequests" ("buildsetid");
CREATE TABLE "builds" (
	"id" BIGSERIAL NOT NULL, 
	"number" BIGINT NOT NULL, 
	"builderid" BIGINT NOT NULL, 
	"buildrequestid" BIGINT NOT NULL, 
	"workerid" BIGINT, 
	"masterid" BIGINT NOT NULL, 
	"started_at" BIGINT NOT NULL, 
	"complete_at" BIGINT, 
	"locks_duration_s" BIGINT NOT NULL, 
	"state_string" TEXT NOT NULL, 
	"results" INTEGER, 
	PRIMARY KEY ("id")
);
CREATE INDEX "builds_buildrequestid" ON "builds" ("buildrequestid");
CREATE INDEX "builds_masterid" ON "builds" ("masterid");
CREATE UNIQUE INDEX "builds_number" ON "builds" ("builderid", "number");
CREATE INDEX "builds_workerid" ON "builds" ("workerid");
CREATE TABLE "changes" (
	"changeid" BIGSERIAL NOT NULL, 
	"author" VARCHAR(255) NOT NULL, 
	"committer" VARCHAR(255), 
	"comments" TEXT NOT NULL, 
	"branch" VARCHAR(255), 
	"revision" VARCHAR(255), 
	"revlink" VARCHAR(256), 
	"when_timestamp" BIGINT NOT NULL, 
	"category" VARCHAR(255), 
	"repository" VARCHAR(512) DEFAULT '' NOT NULL, 
	"codebase" VARCHAR(256) DEFAULT '' NOT NULL, 
	"project" VARCHAR(512) DEFAULT '' NOT NULL, 
	"sourcestampid" BIGINT NOT NULL, 
	"parent_changeids" BIGINT, 
	PRIMARY KEY ("changeid")
);
CREATE INDEX "changes_revision" ON "changes" ("revision");
CREATE INDEX "changes_author" ON "changes" ("author");
CREATE INDEX "changes_category" ON "changes" ("category");
CREATE INDEX "changes_when_timestamp" ON "changes" ("when_timestamp");
CREATE INDEX "changes_sourcestampid" ON "changes" ("sourcestampid");
CREATE INDEX "changes_branch" ON "changes" ("branch");
CREATE TABLE "buildset_sourcestamps" (
	"id" BIGSERIAL NOT NULL, 
	"buildsetid" BIGINT NOT NULL, 
	"sourcestampid" BIGINT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE INDEX "buildset_sourcestamps_buildsetid" ON "buildset_sourcestamps" ("buildsetid");
CREATE UNIQUE INDEX "buildset_sourcestamps_unique" ON "buildset_sourcestamps" ("buildsetid", "sourcestampid");
CREATE TABLE "builder_masters" (
	"id" BIGSERIAL NOT NULL, 
	"builderid" BIGINT NOT NULL, 
	"masterid" BIGINT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE INDEX "builder_masters_builderid" ON "builder_masters" ("builderid");
CREATE UNIQUE INDEX "builder_masters_identity" ON "builder_masters" ("builderid", "masterid");
CREATE INDEX "builder_masters_masterid" ON "builder_masters" ("masterid");
CREATE TABLE "builders_tags" (
	"id" BIGSERIAL NOT NULL, 
	"builderid" BIGINT NOT NULL, 
	"tagid" BIGINT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE INDEX "builders_tags_builderid" ON "builders_tags" ("builderid");
CREATE UNIQUE INDEX "builders_tags_unique" ON "builders_tags" ("builderid", "tagid");
CREATE TABLE "test_names" (
	"id" BIGSERIAL NOT NULL, 
	"builderid" BIGINT NOT NULL, 
	"name" TEXT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE INDEX "test_names_name" ON "test_names" ("builderid", "name");
CREATE TABLE "test_code_paths" (
	"id" BIGSERIAL NOT NULL, 
	"builderid" BIGINT NOT NULL, 
	"path" TEXT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE INDEX "test_code_paths_path" ON "test_code_paths" ("builderid", "path");
CREATE TABLE "buildrequest_claims" (
	"brid" BIGINT NOT NULL, 
	"masterid" BIGINT NOT NULL, 
	"claimed_at" BIGINT NOT NULL
);
CREATE INDEX "ix_buildrequest_claims_masterid" ON "buildrequest_claims" ("masterid");
CREATE UNIQUE INDEX "buildrequest_claims_brids" ON "buildrequest_claims" ("brid");
CREATE TABLE "build_properties" (
	"buildid" BIGINT NOT NULL, 
	"name" VARCHAR(256) NOT NULL, 
	"value" TEXT NOT NULL, 
	"source" VARCHAR(256) NOT NULL
);
CREATE INDEX "build_properties_buildid" ON "build_properties" ("buildid");
CREATE TABLE "build_data" (
	"id" BIGSERIAL NOT NULL, 
	"buildid" BIGINT NOT NULL, 
	"name" VARCHAR(256) NOT NULL, 
	"value" BYTEA NOT NULL, 
	"length" BIGINT NOT NULL, 
	"source" VARCHAR(256) NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "build_data_buildid_name" ON "build_data" ("buildid", "name");
CREATE TABLE "steps" (
	"id" BIGSERIAL NOT NULL, 
	"number" BIGINT NOT NULL, 
	"name" VARCHAR(50) NOT NULL, 
	"buildid" BIGINT NOT NULL, 
	"started_at" BIGINT, 
	"locks_acquired_at" BIGINT, 
	"complete_at" BIGINT, 
	"state_string" TEXT NOT NULL, 
	"results" INTEGER, 
	"urls_json" TEXT NOT NULL, 
	"hidden" SMALLINT DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "steps_number" ON "steps" ("buildid", "number");
CREATE INDEX "steps_started_at" ON "steps" ("started_at");
CREATE UNIQUE INDEX "steps_name" ON "steps" ("buildid", "name");
CREATE TABLE "configured_workers" (
	"id" BIGSERIAL NOT NULL, 
	"buildermasterid" BIGINT NOT NULL, 
	"workerid" BIGINT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE INDEX "configured_workers_buildmasterid" ON "configured_workers" ("buildermasterid");
CREATE UNIQUE INDEX "configured_workers_identity" ON "configured_workers" ("buildermasterid", "workerid");
CREATE INDEX "configured_workers_workers" ON "configured_workers" ("workerid");
CREATE TABLE "change_files" (
	"changeid" BIGINT NOT NULL, 
	"filename" VARCHAR(1024) NOT NULL
);
CREATE INDEX "change_files_changeid" ON "change_files" ("changeid");
CREATE TABLE "change_properties" (
	"changeid" BIGINT NOT NULL, 
	"property_name" VARCHAR(256) NOT NULL, 
	"property_value" TEXT NOT NULL
);
CREATE INDEX "change_properties_changeid" ON "change_properties" ("changeid");
CREATE TABLE "change_users" (
	"changeid" BIGINT NOT NULL, 
	"uid" BIGINT NOT NULL
);
CREATE INDEX "change_users_changeid" ON "change_users" ("changeid");
CREATE TABLE "scheduler_changes" (
	"schedulerid" BIGINT NOT NULL, 
	"changeid" BIGINT NOT NULL, 
	"important" INTEGER
);
CREATE UNIQUE INDEX "scheduler_changes_unique" ON "scheduler_changes" ("schedulerid", "changeid");
CREATE INDEX "scheduler_changes_schedulerid" ON "scheduler_changes" ("schedulerid");
CREATE INDEX "scheduler_changes_changeid" ON "scheduler_changes" ("changeid");
CREATE TABLE "logs" (
	"id" BIGSERIAL NOT NULL, 
	"name" TEXT NOT NULL, 
	"slug" VARCHAR(50) NOT NULL, 
	"stepid" BIGINT NOT NULL, 
	"complete" SMALLINT NOT NULL, 
	"num_lines" BIGINT NOT NULL, 
	"type" VARCHAR(1) NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "logs_slug" ON "logs" ("stepid", "slug");
CREATE TABLE "test_result_sets" (
	"id" BIGSERIAL NOT NULL, 
	"builderid" BIGINT NOT NULL, 
	"buildid" BIGINT NOT NULL, 
	"stepid" BIGINT NOT NULL, 
	"description" TEXT, 
	"category" TEXT NOT NULL, 
	"value_unit" TEXT NOT NULL, 
	"tests_passed" BIGINT, 
	"tests_failed" BIGINT, 
	"complete" SMALLINT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE TABLE "logchunks" (
	"logid" BIGINT NOT NULL, 
	"first_line" BIGINT NOT NULL, 
	"last_line" BIGINT NOT NULL, 
	"content" BYTEA, 
	"compressed" SMALLINT NOT NULL
);
CREATE INDEX "logchunks_firstline" ON "logchunks" ("logid", "first_line");
CREATE INDEX "logchunks_lastline" ON "logchunks" ("logid", "last_line");
CREATE TABLE "test_results" (
	"id" BIGSERIAL NOT NULL, 
	"builderid" BIGINT NOT NULL, 
	"test_result_setid" BIGINT NOT NULL, 
	"test_nameid" BIGINT, 
	"test_code_pathid" BIGINT, 
	"line" BIGINT, 
	"duration_ns" BIGINT, 
	"value" TEXT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE TABLE "alembic_version" (
	"version_num" VARCHAR(32) NOT NULL, 
	CONSTRAINT "alembic_version_pkc" PRIMARY KEY ("version_num")
);
ALTER TABLE "buildsets" ADD CONSTRAINT "parent_buildid" FOREIGN KEY("parent_buildid") REFERENCES "builds" ("id") ON DELETE SET NULL;
ALTER TABLE "buildsets" ADD CONSTRAINT "rebuilt_buildid" FOREIGN KEY("rebuilt_buildid") REFERENCES "builds" ("id") ON DELETE SET NULL;
ALTER TABLE "buildset_properties" ADD CONSTRAINT "buildset_properties_buildsetid_fkey" FOREIGN KEY("buildsetid") REFERENCES "buildsets" ("id") ON DELETE CASCADE;
ALTER TABLE "changesource_masters" ADD CONSTRAINT "changesource_masters_changesourceid_fkey" FOREIGN KEY("changesourceid") REFERENCES "changesources" ("id") ON DELETE CASCADE;
ALTER TABLE "changesource_masters" ADD CONSTRAINT "changesource_masters_masterid_fkey" FOREIGN KEY("masterid") REFERENCES "masters" ("id") ON DELETE CASCADE;
ALTER TABLE "connected_workers" ADD CONSTRAINT "connected_workers_masterid_fkey" FOREIGN KEY("masterid") REFERENCES "masters" ("id") ON DELETE CASCADE;
ALTER TABLE "connected_workers" ADD CONSTRAINT "connected_workers_workerid_fkey" FOREIGN KEY("workerid") REFERENCES "workers" ("id") ON DELETE CASCADE;
ALTER TABLE "sourcestamps" ADD CONSTRAINT "sourcestamps_patchid_fkey" FOREIGN KEY("patchid") REFERENCES "patches" ("id") ON DELETE CASCADE;
ALTER TABLE "scheduler_masters" ADD CONSTRAINT "scheduler_masters_schedulerid_fkey" FOREIGN KEY("schedulerid") REFERENCES "schedulers" ("id") ON DELETE CASCADE;
ALTER TABLE "scheduler_masters" ADD CONSTRAINT "scheduler_masters_masterid_fkey" FOREIGN KEY("masterid") REFERENCES "masters" ("id") ON DELETE CASCADE;
ALTER TABLE "builders" ADD CONSTRAINT "fk_builders_projectid" FOREIGN KEY("projectid") REFERENCES "projects" ("id") ON DELETE SET NULL;
ALTER TABLE "object_state" ADD CONSTRAINT "object_state_objectid_fkey" FOREIGN KEY("objectid") REFERENCES "objects" ("id") ON DELETE CASCADE;
ALTER TABLE "users_info" ADD CONSTRAINT "users_info_uid_fkey" FOREIGN KEY("uid") REFERENCES "users" ("uid") ON DELETE CASCADE;
ALTER TABLE "buildrequests" ADD CONSTRAINT "buildrequests_buildsetid_fkey" FOREIGN KEY("buildsetid") REFERENCES "buildsets" ("id") ON DELETE CASCADE;
ALTER TABLE "buildrequests" ADD CONSTRAINT "buildrequests_builderid_fkey" FOREIGN KEY("builderid") REFERENCES "builders" ("id") ON DELETE CASCADE;
ALTER TABLE "builds" ADD CONSTRAINT "builds_builderid_fkey" FOREIGN KEY("builderid") REFERENCES "builders" ("id") ON DELETE CASCADE;
ALTER TABLE "builds" ADD CONSTRAINT "buildrequestid" FOREIGN KEY("buildrequestid") REFERENCES "buildrequests" ("id") ON DELETE CASCADE;
ALTER TABLE "builds" ADD CONSTRAINT "builds_workerid_fkey" FOREIGN KEY("workerid") REFERENCES "workers" ("id") ON DELETE SET NULL;
ALTER TABLE "builds" ADD CONSTRAINT "builds_masterid_fkey" FOREIGN KEY("masterid") REFERENCES "masters" ("id") ON DELETE CASCADE;
ALTER TABLE "changes" ADD CONSTRAINT "changes_sourcestampid_fkey" FOREIGN KEY("sourcestampid") REFERENCES "sourcestamps" ("id") ON DELETE CASCADE;
ALTER TABLE "changes" ADD CONSTRAINT "changes_parent_changeids_fkey" FOREIGN KEY("parent_changeids") REFERENCES "changes" ("changeid") ON DELETE SET NULL;
ALTER TABLE "buildset_sourcestamps" ADD CONSTRAINT "buildset_sourcestamps_buildsetid_fkey" FOREIGN KEY("buildsetid") REFERENCES "buildsets" ("id") ON DELETE CASCADE;
ALTER TABLE "buildset_sourcestamps" ADD CONSTRAINT "buildset_sourcestamps_sourcestampid_fkey" FOREIGN KEY("sourcestampid") REFERENCES "sourcestamps" ("id") ON DELETE CASCADE;
ALTER TABLE "builder_masters" ADD CONSTRAINT "builder_masters_builderid_fkey" FOREIGN KEY("builderid") REFERENCES "builders" ("id") ON DELETE CASCADE;
ALTER TABLE "builder_masters" ADD CONSTRAINT "builder_masters_masterid_fkey" FOREIGN KEY("masterid") REFERENCES "masters" ("id") ON DELETE CASCADE;
ALTER TABLE "builders_tags" ADD CONSTRAINT "builders_tags_builderid_fkey" FOREIGN KEY("builderid") REFERENCES "builders" ("id") ON DELETE CASCADE;
ALTER TABLE "builders_tags" ADD CONSTRAINT "builders_tags_tagid_fkey" FOREIGN KEY("tagid") REFERENCES "tags" ("id") ON DELETE CASCADE;
ALTER TABLE "test_names" ADD CONSTRAINT "test_names_builderid_fkey" FOREIGN KEY("builderid") REFERENCES "builders" ("id") ON DELETE CASCADE;
ALTER TABLE "test_code_paths" ADD CONSTRAINT "test_code_paths_builderid_fkey" FOREIGN KEY("builderid") REFERENCES "builders" ("id") ON DELETE CASCADE;
ALTER TABLE "buildrequest_claims" ADD CONSTRAINT "buildrequest_claims_brid_fkey" FOREIGN KEY("brid") REFERENCES "buildrequests" ("id") ON DELETE CASCADE;
ALTER TABLE "buildrequest_claims" ADD CONSTRAINT "buildrequest_claims_masterid_fkey" FOREIGN KEY("masterid") REFERENCES "masters" ("id") ON DELETE CASCADE;
ALTER TABLE "build_properties" ADD CONSTRAINT "build_properties_buildid_fkey" FOREIGN KEY("buildid") REFERENCES "builds" ("id") ON DELETE CASCADE;
ALTER TABLE "build_data" ADD CONSTRAINT "build_data_buildid_fkey" FOREIGN KEY("buildid") REFERENCES "builds" ("id") ON DELETE CASCADE;
ALTER TABLE "steps" ADD CONSTRAINT "steps_buildid_fkey" FOREIGN KEY("buildid") REFERENCES "builds" ("id") ON DELETE CASCADE;
ALTER TABLE "configured_workers" ADD CONSTRAINT "configured_workers_buildermasterid_fkey" FOREIGN KEY("buildermasterid") REFERENCES "builder_masters" ("id") ON DELETE CASCADE;
ALTER TABLE "configured_workers" ADD CONSTRAINT "configured_workers_workerid_fkey" FOREIGN KEY("workerid") REFERENCES "workers" ("id") ON DELETE CASCADE;
ALTER TABLE "change_files" ADD CONSTRAINT "change_files_changeid_fkey" FOREIGN KEY("changeid") REFERENCES "changes" ("changeid") ON DELETE CASCADE;
ALTER TABLE "change_properties" ADD CONSTRAINT "change_properties_changeid_fkey" FOREIGN KEY("changeid") REFERENCES "changes" ("changeid") ON DELETE CASCADE;
ALTER TABLE "change_users" ADD CONSTRAINT "change_users_changeid_fkey" FOREIGN KEY("changeid") REFERENCES "changes" ("changeid") ON DELETE CASCADE;
ALTER TABLE "change_users" ADD CONSTRAINT "change_users_uid_fkey" FOREIGN KEY("uid") REFERENCES "users" ("uid") ON DELETE CASCADE;
ALTER TABLE "scheduler_changes" ADD CONSTRAINT "scheduler_changes_schedulerid_fkey" FOREIGN KEY("schedulerid") REFERENCES "schedulers" ("id") ON DELETE CASCADE;
ALTER TABLE "scheduler_changes" ADD CONSTRAINT "scheduler_changes_changeid_fkey" FOREIGN KEY("changeid") REFERENCES "changes" ("changeid") ON DELETE CASCADE;
ALTER TABLE "logs" ADD CONSTRAINT "logs_stepid_fkey" FOREIGN KEY("stepid") REFERENCES "steps" ("id") ON DELETE CASCADE;
ALTER TABLE "test_result_sets" ADD CONSTRAINT "test_result_sets_builderid_fkey" FOREIGN KEY("builderid") REFERENCES "builders" ("id") ON DELETE CASCADE;
ALTER TABLE "test_result_sets" ADD CONSTRAINT "test_result_sets_buildid_fkey" FOREIGN KEY("buildid") REFERENCES "builds" ("id") ON DELETE CASCADE;
ALTER TABLE "test_result_sets" ADD CONSTRAINT "test_result_sets_stepid_fkey" FOREIGN KEY("stepid") REFERENCES "steps" ("id") ON DELETE CASCADE;
ALTER TABLE "logchunks" ADD CONSTRAINT "logchunks_logid_fkey" FOREIGN KEY("logid") REFERENCES "logs" ("id") ON DELETE CASCADE;
ALTER TABLE "test_results" ADD CONSTRAINT "test_results_builderid_fkey" FOREIGN KEY("builderid") REFERENCES "builders" ("id") ON DELETE CASCADE;
ALTER TABLE "test_results" ADD CONSTRAINT "test_results_test_result_setid_fkey" FOREIGN KEY("test_result_setid") REFERENCES "test_result_sets" ("id") ON DELETE CASCADE;
ALTER TABLE "test_results" ADD CONSTRAINT "test_results_test_nameid_fkey" FOREIGN KEY("test_nameid") REFERENCES "test_names" ("id") ON DELETE CASCADE;
ALTER TABLE "test_results" ADD CONSTRAINT "test_results_test_code_pathid_fkey" FOREIGN KEY("test_code_pathid") REFERENCES "test_code_paths" ("id") ON DELETE CASCADE;
