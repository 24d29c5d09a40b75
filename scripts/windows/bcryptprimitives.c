/*
 * bcryptprimitives.dll for Wine 8, which lacks it. Windows 10+ exports ProcessPrng from this DLL and
 * rolldown's native binding (through Rust's std) imports it; without it the binding fails to load.
 * ProcessPrng fills a buffer from the system RNG and always returns TRUE; here it forwards to
 * BCryptGenRandom, which Wine implements. Only the Windows lane under Wine uses this file
 * (scripts/windows-lane.sh builds it with x86_64-w64-mingw32-gcc); it is never shipped.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
  /* BCryptGenRandom takes a ULONG length: fill larger buffers in chunks. */
  while (size > 0) {
    ULONG chunk = size > 0x40000000 ? 0x40000000 : (ULONG)size;
    if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
    data += chunk;
    size -= chunk;
  }
  return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
  (void)instance;
  (void)reason;
  (void)reserved;
  return TRUE;
}
