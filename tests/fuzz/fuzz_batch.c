/* Fuzz target: a Produce records blob through RecordBatch validation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kanal/proto/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kn_batches_info_t info;
    int16_t kerr = 0;
    if (kn_batches_validate(data, size, 1 << 20, &info, &kerr) == 0 && size > 0) {
        uint8_t *copy = malloc(size);
        memcpy(copy, data, size);
        kn_batches_assign_offsets(copy, size, 42);
        free(copy);
    }
    return 0;
}
