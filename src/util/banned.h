/*
 * banned.h — functions we do not use, turned into compile errors (as git's
 * banned.h does). Use struct sm_buf, snprintf and sm_parse_i64 instead.
 */
#ifndef SM_BANNED_H
#define SM_BANNED_H

#define SM_BANNED(func) sorry_##func##_is_banned_use_sm_buf

#undef strcpy
#define strcpy(x, y) SM_BANNED(strcpy)
#undef strcat
#define strcat(x, y) SM_BANNED(strcat)
#undef sprintf
#define sprintf(...) SM_BANNED(sprintf)
#undef strtok
#define strtok(x, y) SM_BANNED(strtok)
#undef atoi
#define atoi(x) SM_BANNED(atoi)

#endif
