/* output_file.c - reports replaced whole (see output_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsmflow/output_file.h"

int output_file_open(struct output_file *f, const char *path, struct dsm_err *err)
{
	struct stat st;
	mode_t mask = umask(0);

	umask(mask);
	memset(f, 0, sizeof(*f));
	f->mode = 0666 & ~mask;
	if (!path || strcmp(path, "-") == 0) {
		f->name = "standard output";
		f->in_place = stdout;
		return 0;
	}
	f->path = f->name = path;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		dsm_err_set(err, "%s: is a directory, not a file for the report", path);
		return -1;
	}
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
		f->mode = st.st_mode & 07777;	/* a replaced file keeps its mode */
	/* a device, a FIFO, or a symbolic link (/dev/stdout among them: the
	 * link stays, what it names is written) is written in place */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !(f->in_place = fopen(path, "w"))) {
		dsm_err_set(err, "%s: cannot write the report: %s", path, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(f->tmp, sizeof(f->tmp), "%s.tmp-XXXXXX", path) >= sizeof(f->tmp)) {
		dsm_err_set(err, "%s: name too long", path);
		return -1;
	}
	return 0;
}

/* The temporary file beside path, opened for writing; -1 with err. */
static int make_beside(struct output_file *f, struct dsm_err *err)
{
	int fd;

	memcpy(f->tmp + strlen(f->path), ".tmp-XXXXXX", sizeof(".tmp-XXXXXX"));
	fd = mkostemp(f->tmp, O_CLOEXEC);
	if (fd < 0) {
		dsm_err_set(err, "%s: cannot make a file beside it for the report: %s", f->path,
			    strerror(errno));
		return -1;
	}
	if (fchmod(fd, f->mode)) {	/* mkstemp's 0600: others read reports too */
		dsm_err_set(err, "%s: %s", f->tmp, strerror(errno));
		close(fd);
		unlink(f->tmp);
		return -1;
	}
	return fd;
}

int output_file_check(struct output_file *f, struct dsm_err *err)
{
	int fd;

	if (f->in_place)
		return 0;
	if ((fd = make_beside(f, err)) < 0)
		return -1;
	close(fd);
	unlink(f->tmp);
	return 0;
}

FILE *output_file_begin(struct output_file *f, struct dsm_err *err)
{
	int fd;

	if (f->in_place)
		return f->in_place;
	if (f->pending)
		return f->pending;
	if ((fd = make_beside(f, err)) < 0)
		return NULL;
	if (!(f->pending = fdopen(fd, "w"))) {
		dsm_err_set(err, "%s: %s", f->tmp, strerror(errno));
		close(fd);
		unlink(f->tmp);
	}
	return f->pending;
}

int output_file_commit(struct output_file *f, struct dsm_err *err)
{
	FILE *pending = f->pending;
	int failed;

	if (f->in_place) {
		if (fflush(f->in_place) == 0 && !ferror(f->in_place))
			return 0;
		dsm_err_set(err, "%s: cannot write the report: %s", f->name,
			    errno ? strerror(errno) : "write error");
		clearerr(f->in_place);
		return -1;
	}
	if (!pending)
		return 0;
	f->pending = NULL;
	errno = 0;
	failed = fflush(pending) != 0 || ferror(pending);
	failed |= fclose(pending) != 0;
	if (failed || rename(f->tmp, f->path)) {
		dsm_err_set(err, "%s: cannot write the report: %s", f->path,
			    errno ? strerror(errno) : "write error");
		unlink(f->tmp);
		return -1;
	}
	return 0;
}

void output_file_discard(struct output_file *f)
{
	if (!f->pending)
		return;
	fclose(f->pending);
	unlink(f->tmp);
	f->pending = NULL;
}

int output_file_close(struct output_file *f)
{
	int failed = 0;

	output_file_discard(f);
	if (f->in_place == stdout)
		failed = fflush(stdout) != 0 || ferror(stdout);
	else if (f->in_place)
		failed = fclose(f->in_place) != 0;
	f->in_place = NULL;
	return failed ? -1 : 0;
}
