/*
 * libFuzzer target: the project loader (libyaml tree + key tables) on an
 * arbitrary smelt.yml. Each input is written to a fresh project directory.
 */
#include "project/project.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/smelt-fuzz-yaml-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    char *yml = sm_path_join(dir, "smelt.yml");
    if (sm_write_file_atomic(yml, data, size, NULL))
        abort();
    struct prj_project *p = NULL;
    struct sm_err err = SM_ERR_INIT;
    if (!prj_load(dir, &p, &err))
        prj_free(p);
    free(yml);
    return 0;
}
