/* reaches past the public ABI */
#include "../../../modules/shardstore/ss.h"
