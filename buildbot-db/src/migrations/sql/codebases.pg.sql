CREATE TABLE "codebases" (
	"id" BIGSERIAL NOT NULL, 
	"projectid" BIGINT NOT NULL, 
	"name" TEXT NOT NULL, 
	"name_hash" VARCHAR(40) NOT NULL, 
	"slug" VARCHAR(50) NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "codebases_projects_name_hash" ON "codebases" ("projectid", "name_hash");
CREATE TABLE "codebase_commits" (
	"id" BIGSERIAL NOT NULL, 
	"codebaseid" BIGINT NOT NULL, 
	"author" VARCHAR(255) NOT NULL, 
	"committer" VARCHAR(255), 
	"comments" TEXT NOT NULL, 
	"when_timestamp" BIGINT NOT NULL, 
	"revision" VARCHAR(70) NOT NULL, 
	"parent_commitid" BIGINT, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "codebase_commits_unique" ON "codebase_commits" ("codebaseid", "revision");
CREATE TABLE "codebase_branches" (
	"id" BIGSERIAL NOT NULL, 
	"codebaseid" BIGINT NOT NULL, 
	"name" VARCHAR(255) NOT NULL, 
	"name_hash" VARCHAR(40) NOT NULL, 
	"commitid" BIGINT, 
	"last_timestamp" BIGINT NOT NULL, 
	PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "codebase_branches_unique" ON "codebase_branches" ("codebaseid", "name_hash");
ALTER TABLE "codebases" ADD CONSTRAINT "codebases_projectid_fkey" FOREIGN KEY("projectid") REFERENCES "projects" ("id") ON DELETE CASCADE;
ALTER TABLE "codebase_commits" ADD CONSTRAINT "codebase_commits_codebaseid_fkey" FOREIGN KEY("codebaseid") REFERENCES "codebases" ("id") ON DELETE CASCADE;
ALTER TABLE "codebase_commits" ADD CONSTRAINT "codebase_commits_parent_commitid_fkey" FOREIGN KEY("parent_commitid") REFERENCES "codebase_commits" ("id") ON DELETE SET NULL;
ALTER TABLE "codebase_branches" ADD CONSTRAINT "codebase_branches_codebaseid_fkey" FOREIGN KEY("codebaseid") REFERENCES "codebases" ("id") ON DELETE CASCADE;
ALTER TABLE "codebase_branches" ADD CONSTRAINT "codebase_branches_commitid_fkey" FOREIGN KEY("commitid") REFERENCES "codebase_commits" ("id") ON DELETE SET NULL;
