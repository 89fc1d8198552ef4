/**
 * The loader configs TFTP generates (what main.ts gives the TFTP server): pxelinux.cfg files for
 * pxelinux.0 and syslinux.efi, GRUB configs for GRUB's netboot images. Every known MAC gets both:
 * the loader decides which it reads (the ARM64 default is GRUB whatever the profile's chain).
 */
import type { BootSources } from '../boot/booter.js';
import { anyVirtualFiles, type VirtualFiles } from '../boot/virtual.js';
import { GRUB_TEMPLATE, grubFiles, type GrubContext } from './grub.js';
import { loadBootTemplate, loadPxelinuxTemplate, pxelinuxFiles } from './pxelinux.js';

/** Reads the templates (an error names a missing one) and returns the generated files TFTP serves. */
export function tftpConfigFiles(src: BootSources, templatesDir: string): VirtualFiles {
  return anyVirtualFiles(pxelinuxFiles(src, loadPxelinuxTemplate(templatesDir)), grubFiles(src, loadBootTemplate<GrubContext>(templatesDir, GRUB_TEMPLATE), 'tftp'));
}
