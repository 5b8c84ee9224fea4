/* ST NUCLEO-F746ZG: STM32F746ZG (Cortex-M7 with single-precision FPU), ST-LINK
 * virtual COM port on USART3, LAN8742A RMII PHY. Facts: ST RM0385 (reference
 * manual), the STM32F746 datasheet and the board's user manual UM1974. */
#ifndef BOARD_NUCLEO_F746ZG_H
#define BOARD_NUCLEO_F746ZG_H

#include "board_api.h"
#include "cortex_m.h"

#define BOARD_NAME "nucleo-f746zg"

/* ---- Clocks: HSI 16 MHz -> PLL -> 96 MHz. ETH needs HCLK >= 25 MHz; the
 * RNG wants the 48 MHz PLL Q output. ---- */
#define F7_HSI_HZ 16000000u
#define F7_PLL_M 16u  /* VCO input 1 MHz */
#define F7_PLL_N 192u /* VCO 192 MHz */
#define F7_PLL_P_DIV2 0u /* PLLP field 0 = divide by 2 -> SYSCLK 96 MHz */
#define F7_PLL_Q 4u   /* 48 MHz for RNG/USB */
#define F7_SYSCLK_HZ 96000000u
#define F7_APB1_HZ (F7_SYSCLK_HZ / 2u) /* APB1 max 54 MHz */
#define F7_FLASH_LATENCY_WS 3u        /* 90-120 MHz at 2.7-3.6 V */
#define F7_TICK_HZ 1000u

/* ---- RCC. ---- */
#define F7_RCC_BASE 0x40023800u
#define RCC_CR 0x00u
#define RCC_PLLCFGR 0x04u
#define RCC_CFGR 0x08u
#define RCC_AHB1RSTR 0x10u
#define RCC_AHB1ENR 0x30u
#define RCC_AHB2ENR 0x34u
#define RCC_APB1ENR 0x40u
#define RCC_APB2ENR 0x44u
#define RCC_CR_HSION (1u << 0)
#define RCC_CR_HSIRDY (1u << 1)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_PLLCFGR_M_SHIFT 0u
#define RCC_PLLCFGR_N_SHIFT 6u
#define RCC_PLLCFGR_P_SHIFT 16u
#define RCC_PLLCFGR_SRC_HSE (1u << 22) /* clear = HSI */
#define RCC_PLLCFGR_Q_SHIFT 24u
#define RCC_CFGR_SW_MASK 0x3u
#define RCC_CFGR_SW_PLL 0x2u
#define RCC_CFGR_SWS_SHIFT 2u
#define RCC_CFGR_PPRE1_DIV2 (0x4u << 10)
#define RCC_AHB1_GPIOA (1u << 0)
#define RCC_AHB1_GPIOB (1u << 1)
#define RCC_AHB1_GPIOC (1u << 2)
#define RCC_AHB1_GPIOD (1u << 3)
#define RCC_AHB1_GPIOG (1u << 6)
#define RCC_AHB1_ETHMAC (1u << 25)
#define RCC_AHB1_ETHMACTX (1u << 26)
#define RCC_AHB1_ETHMACRX (1u << 27)
#define RCC_AHB1RSTR_ETHMAC (1u << 25)
#define RCC_AHB2_RNG (1u << 6)
#define RCC_APB1_USART3 (1u << 18)
#define RCC_APB2_SYSCFG (1u << 14)

/* ---- Flash interface. ---- */
#define F7_FLASH_ACR 0x40023C00u
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ARTEN (1u << 9)

/* ---- SYSCFG: RMII selection. ---- */
#define F7_SYSCFG_BASE 0x40013800u
#define SYSCFG_PMC 0x04u
#define SYSCFG_PMC_MII_RMII_SEL (1u << 23)

/* ---- GPIO. ---- */
#define F7_GPIOA 0x40020000u
#define F7_GPIOB 0x40020400u
#define F7_GPIOC 0x40020800u
#define F7_GPIOD 0x40020C00u
#define F7_GPIOG 0x40021800u
#define GPIO_MODER 0x00u
#define GPIO_OSPEEDR 0x08u
#define GPIO_PUPDR 0x0Cu
#define GPIO_AFRL 0x20u
#define GPIO_AFRH 0x24u
#define GPIO_MODE_AF 0x2u
#define GPIO_SPEED_VERY_HIGH 0x3u
#define GPIO_PULL_UP 0x1u
#define GPIO_AF_USART3 7u
#define GPIO_AF_ETH 11u

/* ---- USART3 = ST-LINK virtual COM port (PD8 TX, PD9 RX). ---- */
#define F7_USART3_BASE 0x40004800u
#define USART_CR1 0x00u
#define USART_BRR 0x0Cu
#define USART_ISR 0x1Cu
#define USART_ICR 0x20u
#define USART_RDR 0x24u
#define USART_TDR 0x28u
#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_ISR_ORE (1u << 3)
#define USART_ISR_RXNE (1u << 5)
#define USART_ISR_TXE (1u << 7)
#define USART_ICR_ORECF (1u << 3)
#define F7_CONSOLE_BAUD 115200u
#define F7_CONSOLE_RX_RING 512u

/* ---- RNG. ---- */
#define F7_RNG_BASE 0x50060800u
#define RNG_CR 0x00u
#define RNG_SR 0x04u
#define RNG_DR 0x08u
#define RNG_CR_RNGEN (1u << 2)
#define RNG_SR_DRDY (1u << 0)
#define RNG_SR_CECS (1u << 1) /* clock error */
#define RNG_SR_SECS (1u << 2) /* seed error */
#define RNG_SR_SEIS (1u << 6)
#define F7_RNG_SPIN_LIMIT 100000u

/* ---- Ethernet: MAC at 0x40028000, LAN8742A at MDIO address 0. ---- */
#define F7_ETH_BASE 0x40028000u
#define F7_ETH_PHY_ADDR 0u
#define F7_ETH_MDC_CR_60_100MHZ 0u /* MACMIIAR.CR: HCLK/42 for 60-100 MHz */

/* ---- Interrupts. ---- */
#define F7_IRQ_USART3 39u
#define F7_IRQ_ETH 61u
#define F7_NUM_IRQS 98u

#endif /* BOARD_NUCLEO_F746ZG_H */
