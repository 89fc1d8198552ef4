/**
 * The loader configs 3rc generates, over TFTP and over HTTP (`/boot/files/...`, for loaders that
 * came by UEFI HTTP Boot and read their config the same way): pxelinux.cfg files for pxelinux.0,
 * lpxelinux and syslinux.efi, GRUB configs for GRUB's netboot images. Every known MAC gets both:
 * the loader decides which it reads (the ARM64 default is GRUB whatever the profile's chain).
 * GRUB's configs name the device the loader came from, so each protocol has its own set.
 */
import type { BootSources } from '../boot/booter.js';
import { anyVirtualFiles, type VirtualFiles } from '../boot/virtual.js';
import { GRUB_TEMPLATE, grubFiles, type GrubContext, type GrubProtocol } from './grub.js';
import { loadBootTemplate, loadPxelinuxTemplate, pxelinuxFiles } from './pxelinux.js';

/** Reads the templates (an error names a missing one) and returns the generated files served over `proto`. */
export function bootConfigFiles(src: BootSources, templatesDir: string, proto: GrubProtocol): VirtualFiles {
  return anyVirtualFiles(pxelinuxFiles(src, loadPxelinuxTemplate(templatesDir)), grubFiles(src, loadBootTemplate<GrubContext>(templatesDir, GRUB_TEMPLATE), proto));
}

/** What the TFTP server generates. */
export function tftpConfigFiles(src: BootSources, templatesDir: string): VirtualFiles {
  return bootConfigFiles(src, templatesDir, 'tftp');
}
