/* test_webapi.c - the embedded Web API table against the reference it was
 * built from and the port catalogue it names, the three match rules, the
 * strict loader against every class of bad line, and binding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsmflow/catalog.h"
#include "dsmflow/webapi.h"

static const char header[] = "match\tkey\tpackage\tcategory\tservice\tsource\n";
static const char good_line[] = "api\tSYNO.Good.\tGood Package\t-\t-\tsomewhere\n";

struct fixture {
	struct catalog *cat;
	struct webapi_table *api;
	size_t catalog_services;	/* before binding */
};

static int load_and_bind(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct dsm_err err = { "" };

	*state = fx;
	if (!fx)
		return -1;
	fx->cat = catalog_load_embedded(&err);
	fx->api = fx->cat ? webapi_load_embedded(&err) : NULL;
	if (fx->api)
		fx->catalog_services = catalog_service_count(fx->cat);
	if (!fx->api || webapi_bind(fx->api, fx->cat, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

static int free_fixture(void **state)
{
	struct fixture *fx = *state;

	if (fx) {
		webapi_free(fx->api);
		catalog_free(fx->cat);
		free(fx);
	}
	return 0;
}

static const struct webapi_entry *lookup(const struct webapi_table *t, enum webapi_match m,
					 const char *key)
{
	return webapi_lookup(t, m, key, strlen(key));
}

/* The entry whose key is exactly key under rule m, or NULL. */
static const struct webapi_entry *find_row(const struct webapi_table *t, enum webapi_match m,
					   const char *key)
{
	for (size_t i = 0; i < webapi_count(t); i++) {
		const struct webapi_entry *e = webapi_entry(t, i);

		if (e->match == m && strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

static char *write_tsv(const struct webapi_table *t, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	webapi_write_tsv(t, f);
	fclose(f);
	return buf;
}

/* ---- the embedded table ---- */

static void test_embedded_binds_to_embedded_catalogue(void **state)
{
	struct fixture *fx = *state;
	size_t per_match[3] = { 0 };

	for (size_t i = 0; i < webapi_count(fx->api); i++) {
		const struct webapi_entry *e = webapi_entry(fx->api, i);
		const struct dsm_service *s = catalog_service(fx->cat, (size_t)e->service_id);

		assert_true(e->service_id >= 0);
		assert_non_null(s);
		assert_true(e->match <= WEBAPI_CGI);
		per_match[e->match]++;
		if (e->category) {
			assert_string_equal(s->category, e->category);
			assert_string_equal(s->name, e->service);
		} else {
			assert_string_equal(s->category, WEBAPI_CATEGORY);
			assert_string_equal(s->name, e->package);
		}
		assert_int_equal(e->dsm_core, strcmp(s->category, "Web applications") == 0 &&
						   strcmp(s->name, "DSM") == 0);
	}
	assert_int_equal(per_match[WEBAPI_API], 76);
	assert_int_equal(per_match[WEBAPI_PKGID], 38);
	assert_int_equal(per_match[WEBAPI_CGI], 5);
}

/* Calls check(arg, column 1, column 2) for each data row of a reference
 * TSV (its first line is a header); skips the test when it is absent. */
static void each_reference_row(const char *path, void (*check)(void *, const char *, const char *),
			       void *arg)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t rows = 0;

	if (!f) {
		fprintf(stderr, "%s: not found, skipping\n", path);
		skip();
	}
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t'), *end;

		if (rows++ == 0 || !tab)
			continue;
		*tab = '\0';
		end = strpbrk(tab + 1, "\t\n");
		if (end)
			*end = '\0';
		check(arg, line, tab + 1);
	}
	fclose(f);
}

static void check_api_row(void *arg, const char *prefix, const char *package)
{
	const struct webapi_table *t = arg;
	const struct webapi_entry *e = find_row(t, WEBAPI_API, prefix);

	(void)package;
	if (strcmp(prefix, "SYNO.CMS.") == 0) {
		assert_null(e);	/* left out: UNVERIFIED in the reference */
		return;
	}
	if (!e)
		fail_msg("reference prefix %s is not in the table", prefix);
}

static void check_pkgid_row(void *arg, const char *id, const char *package)
{
	const struct webapi_table *t = arg;
	const struct webapi_entry *e = find_row(t, WEBAPI_PKGID, id);
	const char *remark = strstr(package, " (");
	size_t n = remark ? (size_t)(remark - package) : strlen(package);

	if (!e)
		fail_msg("reference package id %s is not in the table", id);
	/* the package as the reference names it, without a "(system package)" */
	if (strlen(e->package) != n || strncmp(e->package, package, n) != 0)
		fail_msg("package id %s: '%s' is not '%s'", id, e->package, package);
}

static void test_every_reference_row_present(void **state)
{
	struct fixture *fx = *state;

	each_reference_row(DSM_SHARED_DIR "/reference/synology-webapi.tsv", check_api_row, fx->api);
	each_reference_row(DSM_SHARED_DIR "/reference/synology-package-ids.tsv", check_pkgid_row,
			   fx->api);
}

static void test_project_file_equals_embedded(void **state)
{
	struct fixture *fx = *state;
	struct dsm_err err;
	struct webapi_table *from_file = webapi_load_file(DSM_SOURCE_DIR "/catalog/webapi.tsv", &err);
	size_t len1, len2;
	char *a, *b;

	assert_non_null(from_file);
	a = write_tsv(fx->api, &len1);
	b = write_tsv(from_file, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(a, b, len1);
	free(a);
	free(b);
	webapi_free(from_file);
}

/* ---- matching ---- */

struct expect_package {
	const char *key;
	const char *package;	/* NULL: no match */
};

static void expect_packages(const struct webapi_table *t, enum webapi_match m,
			    const struct expect_package *cases, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct webapi_entry *e = lookup(t, m, cases[i].key);

		if (!cases[i].package && e)
			fail_msg("%s %s matched %s (%s)", webapi_match_name(m), cases[i].key, e->key,
				 e->package);
		if (cases[i].package && !e)
			fail_msg("%s %s matched nothing", webapi_match_name(m), cases[i].key);
		if (cases[i].package && strcmp(e->package, cases[i].package) != 0)
			fail_msg("%s %s: %s (by %s), expected %s", webapi_match_name(m), cases[i].key,
				 e->package, e->key, cases[i].package);
	}
}

static void test_longest_prefix_wins(void **state)
{
	static const struct expect_package cases[] = {
		{ "SYNO.Backup.Service.VersionBackup.X", "Hyper Backup Vault" },
		{ "SYNO.Backup.Service.NetworkBackup", "DSM" },
		{ "SYNO.Backup.Foo", "Hyper Backup" },
		{ "SYNO.Backup.App", "DSM" },
		{ "SYNO.Backup.App.Backup", "DSM" },
		{ "SYNO.Backup.App2.Backup", "Hyper Backup" },
		{ "SYNO.Backup.Config.Backup", "DSM" },
		{ "SYNO.PhotoStation.Auth", "Photo Station" },
		{ "SYNO.Photo.Browse.Item", "Synology Moments" },
		{ "SYNO.DownloadStation2.Task", "Download Station" },
		{ "SYNO.DownloadStation.Task", "Download Station" },
		{ "SYNO.DownloadStation", "Download Station" },
		{ "SYNO.Foto.Browse", "Synology Photos" },
		{ "SYNO.Foto.Browse.Album", "Synology Photos" },
		{ "SYNO.FotoTeam.X", "Synology Photos" },
		{ "SYNO.VideoStation2.Library", "Video Station" },
		{ "SYNO.SynologyDriveShareSync.Session", "Synology Drive Server" },
		{ "SYNO.Core.ISCSI.LUN", "SAN Manager" },
		{ "SYNO.Core.Report.Task", "Storage Analyzer" },
		{ "SYNO.Core.System", "DSM" },
		{ "SYNO.DR.Plan", "Snapshot Replication" },
		{ "SYNO.DR.Node.Session", "DSM" },
		{ "SYNO.AudioPlayer", "DSM" },
		{ "SYNO.AudioStation.Song", "Audio Station" },
		{ "SYNO.FileStation.List", "File Station" },
		/* no match: case matters, a prefix must be whole, CMS is left out */
		{ "syno.filestation.list", NULL },
		{ "SYNO.FileStation", NULL },
		{ "SYNO.Fot", NULL },
		{ "SYNO.CMS.Info", NULL },
		{ "SYNO.Unknown.Thing", NULL },
		{ "", NULL },
	};
	struct fixture *fx = *state;

	expect_packages(fx->api, WEBAPI_API, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_prefix_services(void **state)
{
	struct fixture *fx = *state;
	const struct webapi_entry *e;

	e = lookup(fx->api, WEBAPI_API, "SYNO.Backup.App.Version");
	assert_true(e->dsm_core);
	e = lookup(fx->api, WEBAPI_API, "SYNO.PhotoStation.Photo");
	assert_string_equal(e->service, "Photo Station, Web Station");
	assert_false(e->dsm_core);
	e = lookup(fx->api, WEBAPI_API, "SYNO.Foto.Browse.Item");
	assert_string_equal(e->category, "Packages");	/* the package, not the mobile app */
	assert_int_equal(e->service_id, catalog_find_service(fx->cat, "Packages", "Synology Photos"));
	e = lookup(fx->api, WEBAPI_API, "SYNO.LogCenter.Log");
	assert_string_equal(e->service, "Log Center (syslog server)");
	e = lookup(fx->api, WEBAPI_API, "SYNO.VPNServer.Setting");
	assert_null(e->category);
	assert_string_equal(catalog_service(fx->cat, (size_t)e->service_id)->category, WEBAPI_CATEGORY);
}

static void test_key_length_is_respected(void **state)
{
	struct fixture *fx = *state;
	const char key[] = "SYNO.FileStation.List";

	/* key[0..n) only: no NUL needed, nothing past n read */
	assert_null(webapi_lookup(fx->api, WEBAPI_API, key, 5));
	assert_non_null(webapi_lookup(fx->api, WEBAPI_API, key, 17));
	assert_non_null(webapi_lookup(fx->api, WEBAPI_PKGID, "FileStationX", 11));
	assert_null(webapi_lookup(fx->api, WEBAPI_PKGID, "FileStationX", 12));
	assert_null(webapi_lookup(fx->api, (enum webapi_match)3, "FileStation", 11));
}

static void test_pkgid_and_cgi_match_whole(void **state)
{
	static const struct expect_package pkgids[] = {
		{ "HyperBackup", "Hyper Backup" },
		{ "HyperBackupVault", "Hyper Backup Vault" },
		{ "Spreadsheet", "Synology Office" },
		{ "SynologyDrive", "Synology Drive Server" },
		{ "ScsiTarget", "SAN Manager" },
		{ "WebStation", "Web Station" },
		{ "hyperbackup", NULL },
		{ "HyperBack", NULL },
		{ "HyperBackupX", NULL },
		{ "VideoController", NULL },
		{ "", NULL },
	};
	static const struct expect_package cgis[] = {
		{ "DownloadStation", "Download Station" },
		{ "AudioStation", "Audio Station" },
		{ "VideoStation", "Video Station" },
		{ "VideoController", "Video Station" },
		{ "SurveillanceStation", "Surveillance Station" },
		{ "downloadstation", NULL },
		{ "DownloadStation2", NULL },
		{ "HyperBackup", NULL },
		{ "entry.cgi", NULL },
	};
	struct fixture *fx = *state;

	expect_packages(fx->api, WEBAPI_PKGID, pkgids, sizeof(pkgids) / sizeof(pkgids[0]));
	expect_packages(fx->api, WEBAPI_CGI, cgis, sizeof(cgis) / sizeof(cgis[0]));
	/* an id is not an API name */
	assert_null(lookup(fx->api, WEBAPI_API, "HyperBackup"));
	assert_true(lookup(fx->api, WEBAPI_PKGID, "QuickConnect")->dsm_core);
}

/* ---- binding ---- */

static size_t services_in(const struct catalog *cat, const char *category)
{
	size_t n = 0;

	for (size_t i = 0; i < catalog_service_count(cat); i++)
		n += strcmp(catalog_service(cat, i)->category, category) == 0;
	return n;
}

/* The number of distinct packages of the table without a catalogue service. */
static size_t packages_without_service(const struct webapi_table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < webapi_count(t); i++) {
		const struct webapi_entry *e = webapi_entry(t, i);
		int seen = 0;

		for (size_t j = 0; j < i && !seen && !e->category; j++)
			seen = strcmp(webapi_entry(t, j)->package, e->package) == 0;
		n += !e->category && !seen;
	}
	return n;
}

static void test_one_service_per_package(void **state)
{
	struct fixture *fx = *state;
	size_t added = packages_without_service(fx->api);
	struct dsm_err err;

	assert_int_equal(added, 22);
	assert_int_equal(services_in(fx->cat, WEBAPI_CATEGORY), added);
	assert_int_equal(catalog_service_count(fx->cat), fx->catalog_services + added);
	/* every row of a package has its service */
	for (size_t i = 0; i < webapi_count(fx->api); i++) {
		const struct webapi_entry *e = webapi_entry(fx->api, i);

		if (!e->category)
			assert_int_equal(e->service_id,
					 catalog_find_service(fx->cat, WEBAPI_CATEGORY, e->package));
	}
	assert_int_equal(lookup(fx->api, WEBAPI_API, "SYNO.Backup.Foo")->service_id,
			 lookup(fx->api, WEBAPI_PKGID, "HyperBackup")->service_id);
	/* binding again adds nothing */
	assert_int_equal(webapi_bind(fx->api, fx->cat, &err), 0);
	assert_int_equal(catalog_service_count(fx->cat), fx->catalog_services + added);
}

static char *write_catalog(const struct catalog *cat, int json, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	if (json)
		catalog_write_json(cat, f);
	else
		catalog_write_tsv(cat, f);
	fclose(f);
	return buf;
}

/* The added services have no records, so the catalogue's outputs stay. */
static void test_catalogue_output_unchanged(void **state)
{
	struct fixture *fx = *state;
	struct dsm_err err;
	struct catalog *plain = catalog_load_embedded(&err);

	assert_non_null(plain);
	for (int json = 0; json <= 1; json++) {
		size_t len1, len2;
		char *a = write_catalog(plain, json, &len1), *b = write_catalog(fx->cat, json, &len2);

		assert_int_equal(len1, len2);
		assert_memory_equal(a, b, len1);
		free(a);
		free(b);
	}
	assert_int_equal(catalog_record_count(plain), catalog_record_count(fx->cat));
	catalog_free(plain);
}

static struct webapi_table *parse_ok(const char *text)
{
	struct dsm_err err = { "" };
	struct webapi_table *t = webapi_parse(text, strlen(text), "t.tsv", &err);

	if (!t)
		fail_msg("rejected: %s", err.msg);
	return t;
}

static void expect_bind_fails(const char *text, const char *message)
{
	struct dsm_err err = { "" };
	struct catalog *cat = catalog_load_embedded(&err);
	struct webapi_table *t = parse_ok(text);
	size_t before;

	assert_non_null(cat);
	before = catalog_service_count(cat);
	assert_int_equal(webapi_bind(t, cat, &err), -1);
	if (strcmp(err.msg, message) != 0)
		fail_msg("error '%s', expected '%s'", err.msg, message);
	assert_int_equal(catalog_service_count(cat), before);
	assert_int_equal(catalog_find_service(cat, WEBAPI_CATEGORY, "Good Package"), -1);
	for (size_t i = 0; i < webapi_count(t); i++)
		assert_int_equal(webapi_entry(t, i)->service_id, -1);
	webapi_free(t);
	catalog_free(cat);
}

static void test_bind_failure_leaves_catalogue(void **state)
{
	char text[1024];

	(void)state;
	snprintf(text, sizeof(text), "%s%sapi\tSYNO.X.\tX\tPackages\tNo Such\tsomewhere\n", header,
		 good_line);
	expect_bind_fails(text, "t.tsv:3: no service 'No Such' in category 'Packages' in the port "
				"catalogue");
	/* service names are unique only within a category */
	snprintf(text, sizeof(text), "%s%sapi\tSYNO.X.\tX\tBackup\tSynology Photos\tsomewhere\n",
		 header, good_line);
	expect_bind_fails(text, "t.tsv:3: no service 'Synology Photos' in category 'Backup' in the "
				"port catalogue");
}

static void test_add_and_truncate_services(void **state)
{
	struct dsm_err err;
	struct catalog *cat = catalog_load_embedded(&err);
	size_t before = catalog_service_count(cat);
	int id;

	(void)state;
	id = catalog_add_service(cat, "Web API", "Thing", &err);
	assert_int_equal(id, (int)before);
	assert_int_equal(catalog_add_service(cat, "Web API", "Thing", &err), id);
	assert_int_equal(catalog_add_service(cat, "Packages", "File Station", &err),
			 catalog_find_service(cat, "Packages", "File Station"));
	assert_int_equal(catalog_add_service(cat, "Web API", "a\tb", &err), -1);
	assert_int_equal(catalog_add_service(cat, "Web API", "-", &err), -1);
	assert_int_equal(catalog_add_service(cat, "", "x", &err), -1);
	assert_int_equal(catalog_service_count(cat), before + 1);
	assert_int_equal(catalog_truncate_services(cat, before + 2), -1);
	assert_int_equal(catalog_truncate_services(cat, before), 0);
	assert_int_equal(catalog_service_count(cat), before);
	assert_int_equal(catalog_find_service(cat, "Web API", "Thing"), -1);
	/* services with records stay */
	assert_int_equal(catalog_truncate_services(cat, before - 1), -1);
	assert_int_equal(catalog_service_count(cat), before);
	catalog_free(cat);
}

/* ---- writing ---- */

static void test_tsv_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct webapi_table *again;
	struct dsm_err err;
	size_t len1, len2;
	char *text1 = write_tsv(fx->api, &len1), *text2;

	again = webapi_parse(text1, len1, "round-trip", &err);
	assert_non_null(again);
	text2 = write_tsv(again, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(text1, text2, len1);
	assert_int_equal(webapi_count(again), webapi_count(fx->api));
	for (size_t i = 0; i < webapi_count(again); i++) {
		const struct webapi_entry *a = webapi_entry(fx->api, i), *b = webapi_entry(again, i);

		assert_int_equal(a->match, b->match);
		assert_string_equal(a->key, b->key);
		assert_string_equal(a->package, b->package);
		assert_true((a->category == NULL) == (b->category == NULL));
		assert_string_equal(a->source, b->source);
	}
	free(text1);
	free(text2);
	webapi_free(again);
}

/* ---- the strict loader ---- */

static void expect_rejected(const char *text, size_t len, const char *where, const char *message)
{
	struct dsm_err err = { "" };
	struct webapi_table *t = webapi_parse(text, len, "bad.tsv", &err);

	if (t) {
		webapi_free(t);
		fail_msg("accepted: %s", text);
	}
	if (strncmp(err.msg, where, strlen(where)) != 0 || !strstr(err.msg, message))
		fail_msg("error '%s' does not start with '%s' or lacks '%s'", err.msg, where, message);
}

/* The third line, after the header and a good line, is bad. */
static void expect_third_line_rejected(const char *line, const char *message)
{
	char text[2048];
	int len = snprintf(text, sizeof(text), "%s%s%s", header, good_line, line);

	assert_true(len > 0 && (size_t)len < sizeof(text));
	expect_rejected(text, (size_t)len, "bad.tsv:3: ", message);
}

static void test_wrong_column_count(void **state)
{
	(void)state;
	expect_third_line_rejected("api\tSYNO.Y.\tY\t-\t-\n", "expected 6 tab-separated columns, found 5");
	expect_third_line_rejected("api\tSYNO.Y.\tY\t-\t-\tsrc\textra\n", "found 7");
	expect_third_line_rejected("api\tSYNO.Y.\tY\t-\t-\tsrc\t\n", "found 7");
	expect_third_line_rejected("api SYNO.Y. Y - - src\n", "found 1");
}

static void test_unknown_match(void **state)
{
	(void)state;
	expect_third_line_rejected("prefix\tSYNO.Y.\tY\t-\t-\tsrc\n",
				   "unknown match 'prefix' (expected api, pkgid or cgi)");
	expect_third_line_rejected("API\tSYNO.Y.\tY\t-\t-\tsrc\n", "unknown match 'API'");
}

static void test_empty_field(void **state)
{
	(void)state;
	expect_third_line_rejected("api\t\tY\t-\t-\tsrc\n", "column 'key' is empty");
	expect_third_line_rejected("api\tSYNO.Y.\tY\t-\t-\t\n", "column 'source' is empty");
	expect_third_line_rejected("api\tSYNO.Y.\tY\t\t-\tsrc\n", "column 'category' is empty");
	expect_third_line_rejected("api\tSYNO.Y.\t-\t-\t-\tsrc\n", "column 'package' must not be '-'");
	expect_third_line_rejected("pkgid\t-\tY\t-\t-\tsrc\n", "column 'key' must not be '-'");
}

static void test_control_character(void **state)
{
	(void)state;
	expect_third_line_rejected("api\tSYNO.Y.\tY\x01\t-\t-\tsrc\n",
				   "column 'package' holds a control character");
	expect_third_line_rejected("api\tSYNO.Y.\tY\t-\t-\tsrc\rmore\n",
				   "column 'source' holds a control character");
}

static void test_duplicate_key(void **state)
{
	char text[1024];
	struct webapi_table *t;

	(void)state;
	expect_third_line_rejected("api\tSYNO.Good.\tOther\t-\t-\tsrc\n",
				   "duplicate key: api 'SYNO.Good.' is already on line 2");
	/* the same key under another match rule is another key */
	snprintf(text, sizeof(text), "%s%scgi\tSYNO.Good.\tGood Package\t-\t-\tsrc\n", header,
		 good_line);
	t = parse_ok(text);
	assert_int_equal(webapi_count(t), 2);
	webapi_free(t);
}

static void test_category_and_service_together(void **state)
{
	(void)state;
	expect_third_line_rejected("api\tSYNO.Y.\tY\tPackages\t-\tsrc\n",
				   "category and service must both be '-'");
	expect_third_line_rejected("api\tSYNO.Y.\tY\t-\tFile Station\tsrc\n",
				   "category and service must both be '-'");
}

static void test_overlong_field(void **state)
{
	char key[300], line[400];

	(void)state;
	memset(key, 'K', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(line, sizeof(line), "api\tSYNO.%s\tY\t-\t-\tsrc\n", key);
	expect_third_line_rejected(line, "column 'key' is longer than 255 bytes");
	/* 255 bytes is fine */
	snprintf(line, sizeof(line), "%s%sapi\t%.255s\tY\t-\t-\tsrc\n", header, good_line, key);
	webapi_free(parse_ok(line));
}

static void test_one_service_per_package_in_file(void **state)
{
	(void)state;
	expect_third_line_rejected("pkgid\tGood\tGood Package\tPackages\tFile Station\tsrc\n",
				   "package 'Good Package' has category and service '-' / '-' on "
				   "line 2");
}

static void test_bad_header_nul_and_comments(void **state)
{
	char text[1024];
	struct webapi_table *t;
	int len;

	(void)state;
	expect_rejected("", 0, "bad.tsv:1: ", "no header line");
	expect_rejected("# only a comment\n\n", 18, "bad.tsv:2: ", "no header line");
	expect_rejected("match\tkey\n", 10, "bad.tsv:1: ", "expected the header line");
	len = snprintf(text, sizeof(text), "# comment\n\n%s", good_line);
	expect_rejected(text, (size_t)len, "bad.tsv:3: ", "expected the header line");
	len = snprintf(text, sizeof(text), "%s%s", header, good_line);
	text[len - 3] = '\0';
	expect_rejected(text, (size_t)len, "bad.tsv:2: ", "NUL byte");
	/* comments, blank lines, CRLF and a missing final newline are fine */
	len = snprintf(text, sizeof(text), "# a comment\n\n%s# another\n%.*s\r\n"
		       "pkgid\tGood\tGood Package\t-\t-\tsrc", header,
		       (int)strlen(good_line) - 1, good_line);
	t = webapi_parse(text, (size_t)len, "ok.tsv", NULL);
	assert_non_null(t);
	assert_int_equal(webapi_count(t), 2);
	assert_int_equal(webapi_entry(t, 0)->line, 5);
	assert_string_equal(webapi_entry(t, 0)->source, "somewhere");
	assert_int_equal(webapi_entry(t, 1)->line, 6);
	assert_string_equal(webapi_entry(t, 1)->source, "src");
	assert_int_equal(webapi_entry(t, 1)->service_id, -1);
	webapi_free(t);
}

static void test_missing_file(void **state)
{
	struct dsm_err err;

	(void)state;
	assert_null(webapi_load_file("/nonexistent/webapi.tsv", &err));
	assert_non_null(strstr(err.msg, "/nonexistent/webapi.tsv: cannot open Web API table"));
	assert_non_null(strstr(err.msg, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embedded_binds_to_embedded_catalogue),
		cmocka_unit_test(test_every_reference_row_present),
		cmocka_unit_test(test_project_file_equals_embedded),
		cmocka_unit_test(test_longest_prefix_wins),
		cmocka_unit_test(test_prefix_services),
		cmocka_unit_test(test_key_length_is_respected),
		cmocka_unit_test(test_pkgid_and_cgi_match_whole),
		cmocka_unit_test(test_catalogue_output_unchanged),
		cmocka_unit_test(test_tsv_round_trip),
		cmocka_unit_test(test_one_service_per_package),
	};
	const struct CMUnitTest loader_tests[] = {
		cmocka_unit_test(test_bind_failure_leaves_catalogue),
		cmocka_unit_test(test_add_and_truncate_services),
		cmocka_unit_test(test_wrong_column_count),
		cmocka_unit_test(test_unknown_match),
		cmocka_unit_test(test_empty_field),
		cmocka_unit_test(test_control_character),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_category_and_service_together),
		cmocka_unit_test(test_overlong_field),
		cmocka_unit_test(test_one_service_per_package_in_file),
		cmocka_unit_test(test_bad_header_nul_and_comments),
		cmocka_unit_test(test_missing_file),
	};
	int failed = cmocka_run_group_tests_name("embedded", tests, load_and_bind, free_fixture);

	return failed + cmocka_run_group_tests_name("loader", loader_tests, NULL, NULL);
}
